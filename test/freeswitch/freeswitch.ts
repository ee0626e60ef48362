/**
 * A real FreeSWITCH (../shared/freeswitch, set up for drachtio-fsmrf) for the media tests: its own work folder,
 * SIP and event-socket ports and a private RTP range per test file. Absent folder → the tests skip with one line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectPath } from '../../src/util/paths.js';
import { freePort, freePortBlock } from '../helpers/ports.js';

export const FREESWITCH_DIR = projectPath('..', 'shared', 'freeswitch');
export const FREESWITCH_SCRIPT = join(FREESWITCH_DIR, 'run-freeswitch.sh');
/** Why the media tests cannot run here, or null when they can. */
export const skipReason: string | null = existsSync(FREESWITCH_SCRIPT)
  ? null
  : `no FreeSWITCH at ${FREESWITCH_DIR} (the shared test media server; production runs its own): media tests skipped`;

export interface FreeSwitch {
  sipPort: number;
  eslPort: number;
  rtp: [number, number];
  /** MEDIA_SERVER entry for it */
  spec: string;
  /** process id of the running FreeSWITCH (run-freeswitch.sh execs it) */
  pid(): number;
  /** SIGKILL (a crash), resolves when the process is gone */
  kill(): Promise<void>;
  /** start it again on the same ports (after kill) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Send one event-socket command after login; resolves with the reply text (or rejects on refusal/timeout). */
export function eslCommand(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let authed = false;
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('event socket: no reply'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('data', (d) => {
      buf += d.toString();
      if (!authed && buf.includes('auth/request')) {
        buf = '';
        s.write('auth ClueCon\n\n');
      } else if (!authed && buf.includes('+OK accepted')) {
        authed = true;
        buf = '';
        s.write(`api ${command}\n\n`);
      } else if (authed && /Content-Length: (\d+)\n\n/.test(buf)) {
        const m = /Content-Length: (\d+)\n\n/.exec(buf)!;
        const body = buf.slice(m.index + m[0].length);
        if (Buffer.byteLength(body) >= Number(m[1])) {
          clearTimeout(t);
          s.end();
          resolve(body);
        }
      } else if (buf.includes('-ERR')) {
        clearTimeout(t);
        s.destroy();
        reject(new Error(buf.trim()));
      }
    });
  });
}

export async function startFreeSwitch(): Promise<FreeSwitch> {
  const work = mkdtempSync(join(tmpdir(), 'media-fs-'));
  const sipPort = await freePort();
  const eslPort = await freePort();
  const rtpStart = await freePortBlock(100); // a private RTP range per test file, locked like every test port
  const rtp: [number, number] = [rtpStart, rtpStart + 99];
  let proc: ChildProcess | null = null;

  async function launch(): Promise<void> {
    const p = spawn('bash', [FREESWITCH_SCRIPT, join(work, 'fs'), String(sipPort), String(eslPort), String(rtp[0]), String(rtp[1])], {
      stdio: 'ignore',
    });
    proc = p;
    const end = Date.now() + 30_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`FreeSWITCH exited with ${p.exitCode} (missing libraries? run scripts/media-deps.sh)`);
      const ok = await eslCommand(eslPort, 'status', 1000).then((r) => /is ready/.test(r), () => false);
      if (ok) return;
      if (Date.now() > end) throw new Error('FreeSWITCH not ready within 30 s');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  function gone(signal: NodeJS.Signals): Promise<void> {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill(signal);
    });
  }

  await launch();
  return {
    sipPort, eslPort, rtp, spec: `127.0.0.1:${eslPort}:ClueCon`,
    pid: () => proc?.pid ?? 0,
    kill: () => gone('SIGKILL'),
    restart: launch,
    async stop() {
      await gone('SIGTERM');
      rmSync(work, { recursive: true, force: true });
    },
  };
}
