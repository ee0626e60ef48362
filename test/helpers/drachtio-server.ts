/**
 * A private real drachtio-server (v0.9.4, `../shared/drachtio-server/`, see its README) for tests: its own config
 * file in a temp dir, spare loopback ports for SIP and the admin port, a random secret, the log at `info` (every SIP
 * message the server sent and received). The log is deleted on a clean stop and kept (its path printed) otherwise.
 * A user's machine has no `../shared`: `drachtioServerMissing()` says why a test must skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectPath } from '../../src/util/paths.js';
import { freePort } from './ports.js';

export const DRACHTIO_SERVER_BIN = projectPath('..', 'shared', 'drachtio-server', 'drachtio-server-0.9.4');

/** Why the real server cannot run here, or null when it can. */
export function drachtioServerMissing(): string | null {
  try {
    accessSync(DRACHTIO_SERVER_BIN, constants.X_OK);
    return null;
  } catch {
    return `no drachtio-server binary at ${DRACHTIO_SERVER_BIN} (only the project's machines have ../shared)`;
  }
}

export interface DrachtioServer {
  sipPort: number;
  controlPort: number;
  secret: string;
  logFile: string;
  pid: number;
  /** The log so far (info level: every SIP message). */
  log(): string;
  /** Stop it (SIGTERM, then SIGKILL); the temp dir and log are deleted when keepLog is false. */
  stop(keepLog?: boolean): Promise<void>;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** logLevel: `info` (default) logs every SIP message; benchmarks use `notice` so the log is not what they measure. */
export async function startDrachtioServer(opts: { transports?: ('udp' | 'tcp')[]; logLevel?: 'info' | 'notice' } = {}): Promise<DrachtioServer> {
  const missing = drachtioServerMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'drachtio-server-'));
  const sipPort = await freePort();
  const controlPort = await freePort();
  const secret = randomBytes(12).toString('hex');
  const logFile = join(dir, 'drachtio.log');
  const conf = join(dir, 'drachtio.conf.xml');
  writeFileSync(conf, `<drachtio>
  <admin port="${controlPort}" secret="${xml(secret)}">127.0.0.1</admin>
  <sip><contacts><contact>sip:127.0.0.1:${sipPort};transport=${(opts.transports ?? ['udp', 'tcp']).join(',')}</contact></contacts></sip>
  <cdrs>false</cdrs>
  <logging><file><name>${xml(logFile)}</name></file><loglevel>${opts.logLevel ?? 'info'}</loglevel><sofia-loglevel>${opts.logLevel === 'notice' ? 0 : 3}</sofia-loglevel></logging>
</drachtio>
`);
  const proc: ChildProcess = spawn(DRACHTIO_SERVER_BIN, ['-f', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const server: DrachtioServer = {
    sipPort, controlPort, secret, logFile, pid: proc.pid!, log,
    async stop(keepLog = false) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      if (keepLog) console.log(`drachtio-server log kept: ${logFile}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  // ready when the admin port accepts and the log says the SIP transports are up
  const end = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await server.stop(true);
      throw new Error(`drachtio-server exited at start-up (${proc.exitCode ?? proc.signalCode}): ${stderr.trim()} ${log().slice(-2000)}`);
    }
    if ((await tcpOpen(controlPort)) && log().includes('Starting sofia event loop')) return server;
    if (Date.now() > end) {
      await server.stop(true);
      throw new Error(`drachtio-server did not start within 15 s (log ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
