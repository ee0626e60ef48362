/**
 * Shared pieces of the edge tests: start an edge on free ports, connect real drachtio-srf apps to it, and run
 * sipp as a bounded child process whose statistics we read back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startEdge, type Edge, type EdgeOptions } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import type { SipTimers } from '../../src/edge/timers.js';
import { freePort } from '../helpers/ports.js';
import { projectPath } from '../../src/util/paths.js';

// drachtio-srf's bundled typings do not match its runtime API (see src/sip/srf-types.ts), so tests use it untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySrf = any;
import SrfModule from 'drachtio-srf';
const Srf = SrfModule as unknown as new () => AnySrf;

export const SECRET = 'edge-test-secret';

export const testLogger = pino({ level: process.env.EDGE_TEST_LOG ?? 'silent' });

export interface TestEdge extends Edge { host: string }

/** An edge on free ports; by default every source is allowed (these tests are about the SIP machinery). */
export async function startTestEdge(opts: { transports?: ('udp' | 'tcp')[]; timers?: SipTimers; logger?: Logger } & Partial<Pick<EdgeOptions,
  'maxServerTransactions' | 'maxDialogs' | 'sources' | 'unknownSource' | 'sourceRateLimit' | 'tcp'>> = {}): Promise<TestEdge> {
  const transports = opts.transports ?? ['udp', 'tcp'];
  // UDP alone can take any port the kernel gives; UDP+TCP need one number free on both, which freePort checks
  const sipPort = transports.includes('tcp') ? await freePort() : 0;
  const edge = await startEdge({
    sipHost: '127.0.0.1', sipPort, transports,
    controlHost: '127.0.0.1', controlPort: 0, secret: SECRET, logger: opts.logger ?? testLogger, sources: opts.sources ?? ANY_SOURCE,
    ...(opts.timers ? { timers: opts.timers } : {}),
    ...(opts.maxServerTransactions !== undefined ? { maxServerTransactions: opts.maxServerTransactions } : {}),
    ...(opts.maxDialogs !== undefined ? { maxDialogs: opts.maxDialogs } : {}),
    ...(opts.unknownSource ? { unknownSource: opts.unknownSource } : {}),
    ...(opts.sourceRateLimit !== undefined ? { sourceRateLimit: opts.sourceRateLimit } : {}),
    ...(opts.tcp ? { tcp: opts.tcp } : {}),
  });
  return Object.assign(edge, { host: '127.0.0.1' });
}

/** A real drachtio-srf app connected in inbound mode; resolves after `connect`. */
export async function connectSrf(controlPort: number, secret = SECRET): Promise<AnySrf> {
  const srf = new Srf();
  srf.on('error', () => undefined); // reconnect noise after the edge closes
  await new Promise<void>((resolve, reject) => {
    srf.connect({ host: '127.0.0.1', port: controlPort, secret });
    srf.once('connect', (err: Error | null) => (err ? reject(err) : resolve()));
  });
  return srf;
}

export function disconnectSrf(srf: AnySrf): void {
  try { srf.disconnect(); } catch { /* already gone */ }
}

/**
 * The bare B2BUA the SIP tests and the benchmark use: every INVITE goes to `target(req)`; when either leg hangs up
 * the other is torn down.
 */
export function bareB2bua(srf: AnySrf, target: (req: AnySrf) => string): { calls: number; failures: number } {
  const stats = { calls: 0, failures: 0 };
  srf.invite(async (req: AnySrf, res: AnySrf) => {
    stats.calls++;
    try {
      const { uas, uac } = await srf.createB2BUA(req, res, target(req), {
        headers: { From: `<sip:${req.callingNumber}@127.0.0.1>` },
      });
      uas.on('destroy', () => { uac.destroy().catch(() => undefined); });
      uac.on('destroy', () => { uas.destroy().catch(() => undefined); });
      // a re-INVITE on one leg is relayed to the other, exercising in-dialog INVITE + app-sent ACK
      for (const [leg, other] of [[uas, uac], [uac, uas]]) {
        leg.on('modify', (mreq: AnySrf, mres: AnySrf) => {
          other.modify(mreq.body).then((sdp: string) => mres.send(200, { body: sdp }), () => mres.send(500));
        });
      }
    } catch (err) {
      if ((err as { status?: number }).status === undefined) stats.failures++;
    }
  });
  return stats;
}

export interface SippResult { code: number | null; successful: number; failed: number; errors: string; stderr: string }

export interface SippOptions {
  scenario: string; // file under test/scenarios
  remote?: string; // host:port for a UAC
  port: number;
  transport?: 'udp' | 'tcp';
  calls?: number;
  rate?: number;
  service?: string;
  timeoutS?: number;
  extra?: string[];
}

const running = new Set<ChildProcess>();

/** Kill every sipp this file started (call in afterAll / afterEach). */
export function killSipps(): void {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
}

export function sipp(o: SippOptions): { done: Promise<SippResult>; proc: ChildProcess } {
  const dir = mkdtempSync(join(tmpdir(), 'edge-sipp-'));
  const stat = join(dir, 'stat.csv');
  const err = join(dir, 'err.log');
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf', projectPath('test/scenarios', o.scenario),
    '-i', '127.0.0.1', '-p', String(o.port),
    '-t', o.transport === 'tcp' ? 't1' : 'u1',
    '-m', String(o.calls ?? 1),
    '-timeout', `${o.timeoutS ?? 20}s`, '-timeout_error',
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-trace_err', '-error_file', err,
    '-nostdin',
    ...(o.rate !== undefined ? ['-r', String(o.rate)] : []),
    ...(o.service !== undefined ? ['-s', o.service] : []),
    ...(o.extra ?? []),
  ];
  const proc = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const done = new Promise<SippResult>((resolve) => {
    proc.on('exit', (code) => {
      running.delete(proc);
      const counts = readStats(stat);
      const errors = existsSync(err) ? readFileSync(err, 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, ...counts, errors, stderr });
    });
  });
  return { done, proc };
}

function readStats(file: string): { successful: number; failed: number } {
  if (!existsSync(file)) return { successful: 0, failed: 0 };
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  if (lines.length < 2) return { successful: 0, failed: 0 };
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const col = (name: string): number => Number(last[head.indexOf(name)] ?? 0);
  return { successful: col('SuccessfulCall(C)'), failed: col('FailedCall(C)') };
}

export async function waitMs(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves once a sipp UAS has bound its port (sipp prints nothing useful): UDP — our own bind fails with
 * EADDRINUSE; TCP — a connection is accepted. Gives up after `timeoutMs` (then the test fails on its own).
 */
export async function waitForListener(port: number, transport: 'udp' | 'tcp', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const bound = await new Promise<boolean>((resolve) => {
      if (transport === 'tcp') {
        const c = netConnect({ host: '127.0.0.1', port });
        c.once('connect', () => { c.destroy(); resolve(true); });
        c.once('error', () => resolve(false));
      } else {
        const u = createSocket('udp4');
        u.once('error', () => { u.close(); resolve(true); });
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(false)));
      }
    });
    if (bound) return;
    await waitMs(50);
  }
}
