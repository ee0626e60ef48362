/**
 * The composition root as `npm start` runs it (src/app.ts startApp), on a fresh test database: migrations, the
 * contract's demo seed, the embedded edge, srf, charging, outbox and HTTP all come up; the README's demo call
 * (caller +8657188880000) is charged and recorded; shutdown drains a live call (BYE with "service shutdown") and
 * closes everything. Real sipp, Redis and PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { registry } from '../../src/observability/metrics.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startApp, type RunningApp } from '../../src/app.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { killSipps, runSipp, scenarioFor, type SippResult } from './harness.js';
import { waitForListener } from '../edge/support.js';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
const prefix = testPrefix();
let app: RunningApp | null = null;
let base = '';

async function placeCall(scenario: string, holdMs: number, to: RunningApp = app!): Promise<SippResult> {
  return runSipp(scenario, [`127.0.0.1:${to.sipPort}`, '-p', String(await freePort()), '-m', '1', '-s', '13800138000', '-key', 'caller', '+8657188880000', '-d', String(holdMs)]);
}

let carrierPort = 0;

/** The carrier (sipp UAS on the gateway's port); `done` settles when its call is over. */
async function carrier(): Promise<{ done: Promise<SippResult> }> {
  const done = runSipp('call-uas-answer.xml', ['-p', String(carrierPort), '-m', '1']);
  await waitForListener(carrierPort, 'udp');
  return { done }; // wrapped: an async function returning the bare promise would wait for the call to end
}

/** The configuration `npm start` would build, on this file's database and Redis prefix, with ports of its own. */
async function appConfig(): Promise<Config> {
  return loadConfig({}, {
    'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'http.port': 0,
    'edge.sipPort': await freePort(), 'drachtio.port': await freePort(), 'drachtio.secret': 'app-start-test',
    'demo.autoSeed': true, 'shutdown.drainSeconds': 1, 'sip.optionsPingSeconds': 0, 'log.level': process.env.SIP_TEST_LOG ?? 'silent',
  });
}

beforeAll(async () => {
  db = await createTestDb({ migrate: false }); // startApp migrates
  const config = await appConfig();
  app = await startApp(config, pino({ level: process.env.SIP_TEST_LOG ?? 'silent' }));
  base = `http://127.0.0.1:${app.httpPort}`;
  // the seed points the carrier gateway at 127.0.0.1:5070; tests never use fixed ports. Nothing has read the
  // gateways yet (OPTIONS pings are off here, sipp's carrier scenario expects an INVITE first), so no cache to wait out.
  carrierPort = await freePort();
  await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
});
afterEach(() => killSipps());
afterAll(async () => {
  await app?.shutdown('test end');
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('startApp (the npm start path)', () => {
  it('migrates, seeds the demo tenant and reports ready', async () => {
    const t = await db.pool.query<{ code: string; status: string }>('select code, status from tenants');
    expect(t.rows).toEqual([{ code: 'demo', status: 'active' }]);
    const n = await db.pool.query<{ e164: string; state: string }>('select e164, state from numbers');
    expect(n.rows).toEqual([{ e164: '+8657188880000', state: 'approved' }]);
    const ready = await eventually('ready', async () => {
      const r = await fetch(`${base}/readyz`);
      return r.status === 200 ? ((await r.json()) as { ready: boolean; components: Record<string, unknown> }) : null;
    });
    expect(ready.components).toEqual({ drachtio: true, redis: true, postgres: true, outbox: true });
  });

  it('the README demo call is answered, charged at the demo rate and recorded in the ledger', async () => {
    const since = new Date();
    const { done: carrierDone } = await carrier();
    const caller = await placeCall('call-uac-answer.xml', 1500);
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: 1, failed: 0 });
    const cdr = await eventually('the CDR', async () => {
      const r = await db.pool.query<{ call_id: string; result: string; caller: string; callee: string; rate_prefix: string; billable_seconds: number; charge_fen: bigint; price_per_minute: string }>(
        `select call_id, result, caller, callee, rate_prefix, billable_seconds, charge_fen, price_per_minute from cdrs where invite_at >= $1`, [since]);
      return r.rows[0] ?? null;
    });
    // the README's demo call: 13800138000 is China mobile 13x in the demo deck, 0.08 CNY/min, per second
    expect(cdr).toMatchObject({ result: 'answered', caller: '+8657188880000', callee: '+8613800138000', rate_prefix: '8613', price_per_minute: '0.080000' });
    expect(cdr.billable_seconds).toBeGreaterThanOrEqual(1);
    // 8 fen/min × billable seconds / 60, rounded up to the fen (config charging.rounding default)
    expect(cdr.charge_fen).toBe(BigInt(Math.ceil((8 * cdr.billable_seconds) / 60)));
    const charged = await db.pool.query<{ s: bigint }>(`select coalesce(sum(amount_fen), 0)::int8 as s from ledger_transfers where kind = 'call_charge' and call_id = $1`, [cdr.call_id]);
    expect(charged.rows[0]!.s).toBe(cdr.charge_fen);
  });

  it('shutdown drains: readiness goes false, the live call is cut with "service shutdown", its CDR is written', async () => {
    // an instance of its own (same database and Redis), so no other test depends on running before this one
    let own: RunningApp | null = await startApp(await appConfig(), pino({ level: process.env.SIP_TEST_LOG ?? 'silent' }));
    try {
      const ownBase = `http://127.0.0.1:${own.httpPort}`;
      const since = new Date();
      const { done: carrierDone } = await carrier();
      const caller = placeCall(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'service shutdown' }), 30_000, own);
      // answered, not only authorized: activeCalls() counts a call from its authorization on, and a drain that
      // starts before the 200 cancels the call instead of cutting it (the carrier gauge counts connected calls)
      await eventually('the call answered', async () => {
        const g = await registry.getSingleMetric('softswitch_gateway_active_calls')!.get();
        return own!.activeCalls() === 1 && g.values.some((v) => v.labels['gateway'] === 'carrier-local' && v.value === 1);
      });
      const stopping = own.shutdown('test');
      await eventually('readiness false', async () => {
        const r = await fetch(`${ownBase}/readyz`).catch(() => null);
        return r === null || r.status === 503 ? true : null;
      });
      await stopping;
      own = null;
      // sipp's error log in the message: a failed side says which message it missed or did not expect
      const [a, b] = [await caller, await carrierDone];
      expect(a, a.errors).toMatchObject({ successful: 1, failed: 0 });
      expect(b, b.errors).toMatchObject({ successful: 1, failed: 0 });
      const r = await eventually('the CDR', async () => {
        const q = await db.pool.query<{ result: string; disconnect_side: string; disconnect_reason: string }>(
          `select result, disconnect_side, disconnect_reason from cdrs where invite_at >= $1`, [since]);
        return q.rows.length ? q.rows : null;
      });
      expect(r).toEqual([{ result: 'answered', disconnect_side: 'system', disconnect_reason: 'drain' }]);
    } finally {
      await own?.shutdown('test failed');
    }
  });
});
