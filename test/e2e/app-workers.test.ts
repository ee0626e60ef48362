/**
 * The product as `npm start` runs it with SIP_WORKERS=2 (src/main.ts, a separate process): the embedded edge in the
 * primary thread, two call-control worker threads connected to it as drachtio-srf apps. Real sipp, Redis and
 * PostgreSQL. Demo calls are spread over both workers and each is charged (CDR + ledger); /readyz lists both
 * workers and /metrics aggregates them; SIGTERM drains every worker (live calls cut with "service shutdown",
 * their CDRs written) and the process exits 0.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../helpers/app-process.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { killSipps, scenarioFor } from './harness.js';
import { cdrsSince, metricsText, placeCalls, readyz, sample, startCarrier } from './topology-fixture.js';

const CALLER = '+8657188880000'; // the demo tenant's approved number (demo seed)
let db: TestDb;
const prefix = testPrefix();
let app: AppProcess | null = null;
let sipPort = 0;

/** worker index of each 'call answered' log line (the worker threads' loggers carry `worker`) */
function answeredByWorker(): Map<number, number> {
  const by = new Map<number, number>();
  for (const l of app!.logs()) if (l.msg === 'call answered' && typeof l.worker === 'number') by.set(l.worker, (by.get(l.worker) ?? 0) + 1);
  return by;
}

beforeAll(async () => {
  db = await createTestDb({ migrate: false }); // the primary migrates and seeds the demo tenant
  sipPort = await freePort();
  app = await startAppProcess({
    DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4', REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
    SIP_PORT: String(sipPort), SIP_TRANSPORTS: 'udp', DRACHTIO_PORT: String(await freePort()), SIP_WORKERS: '2',
    DEMO_AUTO_SEED: 'true', SIP_OPTIONS_PING_SECONDS: '0', DRAIN_SECONDS: '1', MAINTENANCE_INTERVAL_SECONDS: '3600',
  }, 90_000);
}, 120_000);
afterEach(() => killSipps());
afterAll(async () => {
  await app?.kill();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('npm start with SIP_WORKERS=2 (edge in the primary, call control in two worker threads)', () => {
  it('is ready with both workers connected to the edge', async () => {
    const r = await readyz(app!.base);
    expect(r.status).toBe(200);
    expect(r.body.components).toEqual({ drachtio: true, redis: true, postgres: true, outbox: true });
    expect(r.body.details?.drachtio).toEqual({ 'worker-1': true, 'worker-2': true });
    const started = app!.logs().filter((l) => l.msg === 'call-control workers started');
    expect((started[0]?.workers as string[]).length).toBe(2);
  });

  it('spreads demo calls over both workers; each is charged at the demo rate, CDR and ledger agree', async () => {
    const carrierPort = await freePort();
    await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
    const since = new Date();
    const calls = 6;
    const { done: carrierDone } = await startCarrier(carrierPort, calls);
    const caller = await placeCalls(sipPort, 'call-uac-answer.xml', { caller: CALLER, holdMs: 1000, calls, rate: 10 });
    expect(caller).toMatchObject({ successful: calls, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: calls, failed: 0 });

    const cdrs = await cdrsSince(db.pool, since, calls);
    expect(cdrs.map((c) => c.result)).toEqual(Array(calls).fill('answered'));
    for (const c of cdrs) {
      expect(c.billable_seconds).toBeGreaterThanOrEqual(1);
      // the demo deck's 0.08 CNY/min for 13800138000, per second, rounded up to the fen
      expect(BigInt(c.charge_fen)).toBe(BigInt(Math.ceil((8 * c.billable_seconds) / 60)));
    }
    const ledger = await eventually('every charge in the ledger', async () => {
      const r = await db.pool.query<{ call_id: string; s: string }>(
        `select call_id, sum(amount_fen)::text as s from ledger_transfers where kind = 'call_charge' and call_id = any($1) group by call_id`, [cdrs.map((c) => c.call_id)]);
      return r.rows.length === calls ? new Map(r.rows.map((x) => [x.call_id, x.s])) : null;
    });
    for (const c of cdrs) expect(ledger.get(c.call_id)).toBe(c.charge_fen);

    // log lines leave asynchronously (src/util/logger.ts serviceDestination): wait for all of them
    const by = await eventually('every answered call logged', async () => {
      const m = answeredByWorker();
      return [...m.values()].reduce((a, b) => a + b, 0) === calls ? m : null;
    });
    expect([...by.keys()].sort()).toEqual([1, 2]);
    expect([...by.values()].reduce((a, b) => a + b, 0)).toBe(calls);

    // /metrics: the workers' counters summed into one series; process_* once and unprefixed
    const m = await metricsText(app!.base);
    expect(sample(m, 'softswitch_invites_total')).toBe(calls);
    expect(m.split('\n').filter((l) => l.startsWith('process_cpu_user_seconds_total ')).length).toBe(1);
    expect(m).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(sample(m, 'softswitch_active_calls')).toBe(0);
  });

  it('SIGTERM drains every worker: live calls on both are cut with "service shutdown", CDRs written, exit code 0', async () => {
    const carrierPort = (await db.pool.query<{ port: number }>(`select port from carrier_gateways where name = 'carrier-local'`)).rows[0]!.port;
    const since = new Date();
    const answeredBefore = answeredByWorker();
    const { done: carrierDone } = await startCarrier(carrierPort, 2);
    const caller = placeCalls(sipPort, scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'service shutdown' }), { caller: CALLER, holdMs: 30_000, calls: 2, rate: 10 });
    await eventually('both calls up', async () => sample(await metricsText(app!.base), 'softswitch_active_calls') === 2 || null);
    // one new call answered on each worker (log lines leave asynchronously: wait for both)
    const newOn = (m: Map<number, number>, w: number) => (m.get(w) ?? 0) - (answeredBefore.get(w) ?? 0);
    const after = await eventually('both calls answered', async () => {
      const m = answeredByWorker();
      return newOn(m, 1) + newOn(m, 2) === 2 ? m : null;
    });
    expect([1, 2].map((w) => newOn(after, w))).toEqual([1, 1]);

    const stopping = app!.stop();
    await eventually('readiness false', async () => {
      const r = await fetch(`${app!.base}/readyz`).catch(() => null);
      return r === null || r.status === 503 ? true : null;
    });
    await stopping;
    expect(app!.exitCode()).toBe(0);
    expect(await caller).toMatchObject({ successful: 2, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: 2, failed: 0 });
    const cdrs = await cdrsSince(db.pool, since, 2);
    expect(cdrs.map((c) => [c.result, c.disconnect_side, c.disconnect_reason])).toEqual([['answered', 'system', 'drain'], ['answered', 'system', 'drain']]);
    const stoppedWorkers = app!.logs().filter((l) => l.msg === 'stopped' && typeof l.worker === 'number').map((l) => l.worker);
    expect(stoppedWorkers.sort()).toEqual([1, 2]);
    app = null;
  });
});
