/**
 * A private PgBouncer (Debian package `pgbouncer`) in front of the test PostgreSQL, on a spare port, in the pool mode
 * the test asks for: what deploy/ puts between the app instances and PostgreSQL. PgBouncer refuses to run as root,
 * so it runs as the `postgres` system user when the test runs as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface PgBouncer {
  port: number;
  /** postgres:// URL of `database` through the bouncer */
  url(database: string): string;
  log(): string;
  stop(): Promise<void>;
}

export function pgbouncerMissing(): string | null {
  return spawnSync('pgbouncer', ['--version']).error ? 'pgbouncer is not installed (Debian package pgbouncer; npm run test:cluster installs it)' : null;
}

export async function startPgBouncer(o: { poolMode: 'session' | 'transaction' | 'statement'; pgHost?: string; pgPort?: number; poolSize?: number }): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
  const port = await freePort();
  const logFile = join(dir, 'pgbouncer.log');
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(ini, `[databases]
* = host=${o.pgHost ?? '127.0.0.1'} port=${o.pgPort ?? 5432} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'users.txt')}
pool_mode = ${o.poolMode}
default_pool_size = ${o.poolSize ?? 20}
max_client_conn = 1000
logfile = ${logFile}
pidfile = ${join(dir, 'pgbouncer.pid')}
ignore_startup_parameters = extra_float_digits
`);
  writeFileSync(logFile, '');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres']).stdout.toString().trim();
    const gid = spawnSync('id', ['-g', 'postgres']).stdout.toString().trim();
    chmodSync(dir, 0o755);
    for (const f of [dir, logFile]) chownSync(f, Number(pw), Number(gid));
  }
  const proc: ChildProcess = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const log = () => readFileSync(logFile, 'utf8');
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) {
      const why = `${stderr.trim()} ${log().slice(-1000)}`;
      await stop();
      throw new Error(`pgbouncer exited at start-up: ${why}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > end) {
      await stop();
      throw new Error(`pgbouncer did not listen within 10 s: ${log().slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`, log, stop };
}
