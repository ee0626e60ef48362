/**
 * The product as a separate process, exactly as `npm run dev` runs it (src/main.ts under tsx), configured by
 * environment variables: for tests that kill an app instance (SIGKILL: no drain, no settlement, nothing flushed)
 * or run several instances side by side. Its HTTP port is a spare one (HTTP_PORT); resolves once its /readyz
 * answers 200. Its log lines are kept, and printed when it fails to start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { projectPath } from '../../src/util/paths.js';
import { freePort } from './ports.js';

export interface AppProcess {
  pid: number;
  httpPort: number;
  base: string;
  /** JSON log lines so far (pino). */
  logs(): Record<string, unknown>[];
  /** SIGKILL: the instance dies mid-whatever, as on a host crash. */
  kill(): Promise<void>;
  /** SIGTERM and wait: the drain path. */
  stop(): Promise<void>;
  /** Exit code once it has exited (null while running, or when a signal ended it). */
  exitCode(): number | null;
}

export async function startAppProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<AppProcess> {
  const httpPort = await freePort();
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'main.ts')], {
    cwd: projectPath(), env: { ...process.env, LOG_LEVEL: 'info', ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ msg: l });
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;

  const base = `http://127.0.0.1:${httpPort}`;
  const ready = async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200;
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (!alive() || Date.now() > end) {
      proc.kill('SIGKILL');
      await exited;
      const tail = lines.slice(-20).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`app process did not become ready (exit ${proc.exitCode ?? proc.signalCode}): ${stderr.trim()}\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: proc.pid!, httpPort, base,
    logs: () => lines,
    exitCode: () => proc.exitCode,
    async kill() {
      if (alive()) proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (alive()) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    },
  };
}
