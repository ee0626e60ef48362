/**
 * A private redis-server for tests that kill Redis (never the shared one): a free loopback port, a temp dir, and
 * optionally an append-only file with fsync always, so every acknowledged write survives SIGKILL as it would on the
 * production Redis (AOF on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface OwnRedis {
  port: number;
  url: string;
  dir: string;
  /** Start (again, on the same data when append-only); resolves when it answers PING. */
  start(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  running(): boolean;
  /** Kill if running and delete its files. */
  destroy(): Promise<void>;
}

export async function startOwnRedis(opts: { appendOnly?: boolean } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'softswitch-redis-'));
  const persistence = opts.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let proc: ChildProcess | null = null;

  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence], { stdio: 'ignore' });
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        for (let i = 0; i < 200; i++) {
          try {
            await probe.connect();
            await probe.ping();
            return;
          } catch {
            probe.disconnect();
            await new Promise((r) => setTimeout(r, 25));
          }
        }
        throw new Error(`own redis-server on port ${port} did not start`);
      } finally {
        probe.disconnect();
      }
    },
    async kill() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    running: () => proc !== null && proc.exitCode === null && proc.signalCode === null,
    async destroy() {
      await own.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
