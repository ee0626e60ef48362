/**
 * Helpers of the topology tests (app instances behind several SIP servers, several instances): place calls through
 * a given SIP server, run the carrier, read an instance's /metrics and /readyz, wait for CDRs.
 */
import type { Pool } from '../../src/db/pool.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { runSipp, type SippResult } from './harness.js';
import { waitForListener } from '../edge/support.js';

/** Calls from the call center to 13800138000 through the SIP server on sipPort (`rate` new calls per second). */
export async function placeCalls(sipPort: number, scenario: string, o: { caller: string; holdMs: number; calls?: number; rate?: number }): Promise<SippResult> {
  return runSipp(scenario, [
    `127.0.0.1:${sipPort}`, '-p', String(await freePort()), '-m', String(o.calls ?? 1), '-r', String(o.rate ?? 10), '-l', String(o.calls ?? 1),
    '-s', '13800138000', '-key', 'caller', o.caller, '-d', String(o.holdMs),
  ]);
}

/** The carrier (sipp UAS on the gateway's port); `done` settles when its calls are over. */
export async function startCarrier(port: number, calls: number, scenario = 'call-uas-answer.xml'): Promise<{ done: Promise<SippResult> }> {
  const done = runSipp(scenario, ['-p', String(port), '-m', String(calls)]);
  await waitForListener(port, 'udp');
  return { done }; // wrapped: an async function returning the bare promise would wait for the calls to end
}

export async function metricsText(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`)).text();
}

/** The value of one unlabelled or fully labelled sample line, e.g. `softswitch_active_calls`. */
export function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export interface ReadyBody { ready: boolean; components: Record<string, unknown>; details?: { drachtio: Record<string, boolean> } }

export async function readyz(base: string): Promise<{ status: number; body: ReadyBody }> {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as ReadyBody };
}

export async function waitActiveCalls(base: string, n: number, timeoutMs?: number): Promise<void> {
  await eventually(`${n} active calls at ${base}`, async () => sample(await metricsText(base), 'softswitch_active_calls') === n, timeoutMs);
}

export interface CdrBrief {
  call_id: string;
  result: string;
  disconnect_side: string | null;
  disconnect_reason: string | null;
  charge_fen: string;
  billable_seconds: number;
  answer_at: Date | null;
  end_at: Date;
}

/** The CDRs of calls that came in at or after `since`, once at least `count` are written. */
export async function cdrsSince(pool: Pool, since: Date, count: number, timeoutMs?: number): Promise<CdrBrief[]> {
  return eventually(`${count} CDR(s)`, async () => {
    const r = await pool.query<CdrBrief>(
      `select call_id, result, disconnect_side, disconnect_reason, charge_fen::text, billable_seconds, answer_at, end_at
         from cdrs where invite_at >= $1 order by invite_at, call_id`, [since]);
    return r.rows.length >= count ? r.rows : null;
  }, timeoutMs);
}
