/**
 * Dead-instance reclaim as it runs in production: two app instances as separate processes (src/main.ts, each with
 * its embedded SIP edge), sharing PostgreSQL and Redis, both with the lease sweeper at its real interval (every 5 s;
 * no test hook calls sweep()). A call is answered on instance A, then A is killed with SIGKILL: no drain, no
 * settlement, nothing flushed. B's sweep loop reclaims the call once its lease has run out (answer + granted +
 * grace), charges it exactly once with its best known duration (the seconds A had been granted), in the CDR and
 * the ledger alike, counts it in the tenant's spend of the day, and frees its limits slot: with max_concurrent = 1
 * the tenant's next call is answered at once, not refused until the dead call's slot lease (3 minutes) would have
 * run out. Then B, sent SIGTERM, drains and exits 0. Real sipp, Redis and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { dayOf } from '../../src/calendar/zone.js';
import { loadConfig } from '../../src/config/config.js';
import { startAppProcess, type AppProcess } from '../helpers/app-process.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { seedTenant } from '../helpers/tenants.js';
import { killSipps } from './harness.js';
import { metricsText, placeCalls, sample, startCarrier, waitActiveCalls } from './topology-fixture.js';

const CALLER = '+8657100000077';
const BALANCE_FEN = 100_000n;
const FEN_PER_SECOND = 10n; // 6 CNY/min, 1 s increments
const SLICE_SECONDS = 5;
const GRACE_SECONDS = 2;

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();
let tenantId = '';
let carrierPort = 0;
let a: AppProcess | null = null;
let b: AppProcess | null = null;

async function instance(): Promise<{ app: AppProcess; sipPort: number }> {
  const sipPort = await freePort();
  const app = await startAppProcess({
    DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4', REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
    SIP_PORT: String(sipPort), DRACHTIO_PORT: String(await freePort()), SIP_WORKERS: '1',
    DEMO_AUTO_SEED: 'false', SCHEDULER_ENABLED: 'false', MAINTENANCE_INTERVAL_SECONDS: '3600', SIP_OPTIONS_PING_SECONDS: '0',
    CHARGING_SLICE_SECONDS: String(SLICE_SECONDS), CHARGING_LEASE_GRACE_SECONDS: String(GRACE_SECONDS), DRAIN_SECONDS: '1',
  }, 120_000);
  return { app, sipPort };
}

let sipA = 0;
let sipB = 0;

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
  carrierPort = await freePort();
  await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-test', '127.0.0.1')`);
  await db.pool.query(`insert into carrier_gateways (name, host, port) values ('carrier', '127.0.0.1', $1)`, [carrierPort]);
  tenantId = await seedTenant(db.pool, redis, { code: 'killed', number: CALLER, balanceFen: BALANCE_FEN, pricePerMinute: '6', maxConcurrent: 1 });
  const [x, y] = await Promise.all([instance(), instance()]);
  ({ app: a, sipPort: sipA } = x);
  ({ app: b, sipPort: sipB } = y);
}, 180_000);

afterAll(async () => {
  killSipps();
  await a?.kill();
  await b?.stop();
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

/** The instance id an app process logs with (pino child logger of startApp). */
function instanceIdOf(p: AppProcess): string {
  const id = p.logs().find((l) => typeof l.instanceId === 'string')?.instanceId;
  if (typeof id !== 'string') throw new Error('no instanceId in the app logs');
  return id;
}

describe('an app instance killed mid-call (SIGKILL, separate process)', () => {
  it('another instance\'s sweep loop reclaims the call after its lease: charged once for its grant (CDR = ledger), limits slot freed; SIGTERM then exits 0', async () => {
    const shard = keys.shardOfTenant(tenantId);
    const since = new Date();
    await startCarrier(carrierPort, 2); // the killed call (never ends there: not asserted) and the next call
    void placeCalls(sipA, 'call-uac-answer.xml', { caller: CALLER, holdMs: 60_000 }); // its instance dies under it
    await waitActiveCalls(a!.base, 1, 30_000);
    const callId = await eventually('the call answered in Redis', async () => {
      const [id] = await redis.smembers(keys.calls(tenantId));
      return id !== undefined && (await redis.hget(keys.call(shard, id), 'state')) === 'answered' ? id : null;
    });
    expect(await redis.zscore(keys.sipCalls(tenantId), callId)).not.toBeNull(); // its limits slot, held

    const owner = instanceIdOf(a!);
    await a!.kill();
    // what the dead instance left in Redis: nobody changes it any more until B reclaims it
    const left = await redis.hgetall(keys.call(shard, callId));
    expect(left).toMatchObject({ tenant: tenantId, inst: owner, state: 'answered' });
    const granted = Number(left.granted);
    expect(granted).toBeGreaterThanOrEqual(1);
    const leaseEnd = Number(await redis.zscore(keys.leases(shard), callId));
    expect(leaseEnd).toBe(Number(left.answer) + granted * 1000 + GRACE_SECONDS * 1000);

    // B reclaims it by itself: its sweep loop, every 5 s, after the lease end; the outbox writes the CDR
    const cdr = await eventually('the reclaimed call\'s CDR', async () => {
      const r = await db.pool.query<{ result: string; disconnect_side: string; disconnect_reason: string; billable_seconds: number; charge_fen: string; instance_id: string; answer_at: Date; end_at: Date }>(
        `select result, disconnect_side, disconnect_reason, billable_seconds, charge_fen::text, instance_id, answer_at, end_at from cdrs where call_id = $1`, [callId]);
      return r.rows.length ? r.rows : null;
    }, 90_000);
    expect(cdr).toHaveLength(1);
    expect(cdr[0]).toMatchObject({
      result: 'answered', disconnect_side: 'system', disconnect_reason: `instance ${owner} lost: reclaimed after lease expiry`,
      billable_seconds: granted, charge_fen: (BigInt(granted) * FEN_PER_SECOND).toString(), instance_id: instanceIdOf(b!),
    });
    expect(cdr[0]!.end_at.getTime() - cdr[0]!.answer_at.getTime()).toBe(granted * 1000);
    // not before its lease had run out
    const reclaimedLog = b!.logs().filter((l) => l.msg === 'reclaimed call of a lost instance' && l.callId === callId);
    expect(reclaimedLog).toHaveLength(1);
    expect(Date.parse(String(reclaimedLog[0]!.time))).toBeGreaterThanOrEqual(leaseEnd); // isoTime

    // nothing of it left in Redis: no hold, not live, no lease, its limits slot freed; the done marker says settled
    expect(await redis.exists(keys.call(shard, callId))).toBe(0);
    expect(await redis.sismember(keys.calls(tenantId), callId)).toBe(0);
    expect(await redis.zscore(keys.leases(shard), callId)).toBeNull();
    expect(await redis.zscore(keys.sipCalls(tenantId), callId)).toBeNull();
    expect(await redis.get(keys.done(shard, callId))).toBe(`${cdr[0]!.charge_fen}|${granted}`);

    // the freed slot, through SIP: max_concurrent is 1 and the tenant's next call (on B) is answered
    const next = await placeCalls(sipB, 'call-uac-answer.xml', { caller: CALLER, holdMs: 1000 });
    expect(next).toMatchObject({ successful: 1, failed: 0 });
    await eventually('B idle', async () => sample(await metricsText(b!.base), 'softswitch_active_calls') === 0);

    // charged once: one CDR, ledger = CDR, balance = top-up − charges, Redis agrees with the ledger
    const charges = await eventually('both calls in the ledger', async () => {
      const r = await db.pool.query<{ call_id: string; s: string }>(
        `select call_id, sum(amount_fen)::text as s from ledger_transfers where tenant_id = $1 and kind = 'call_charge' group by call_id`, [tenantId]);
      return r.rows.length === 2 ? new Map(r.rows.map((x) => [x.call_id, BigInt(x.s)])) : null;
    }, 30_000);
    expect(charges.get(callId)).toBe(BigInt(cdr[0]!.charge_fen));
    const cdrs = await db.pool.query<{ call_id: string; charge_fen: string }>(`select call_id, charge_fen::text from cdrs where tenant_id = $1`, [tenantId]);
    expect(cdrs.rows).toHaveLength(2);
    for (const c of cdrs.rows) expect(charges.get(c.call_id), c.call_id).toBe(BigInt(c.charge_fen));
    const total = [...charges.values()].reduce((s, x) => s + x, 0n);
    const balance = await db.pool.query<{ s: string }>(
      `select coalesce(sum(credits_posted - debits_posted), 0)::text as s from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId]);
    expect(BigInt(balance.rows[0]!.s)).toBe(BALANCE_FEN - total);
    // the tenant's spend of the day (daily spend cap) counts the reclaimed call too, as its own end would have
    const days = [...new Set([since, new Date()].map((d) => dayOf(d, loadConfig({}).service.timezone)))];
    const spent = (await Promise.all(days.map((d) => redis.get(keys.sipSpend(tenantId, d))))).reduce((s, v) => s + BigInt(v ?? '0'), 0n);
    expect(spent).toBe(total);
    const report = await reconcile({ pool: db.pool, redis, tenantId, repair: false });
    expect(report.driftTenants).toBe(0);
    expect(report.ledgerInconsistent).toEqual([]);

    // and the survivor, sent SIGTERM (SIP_WORKERS=1: edge and call control in one thread), drains and exits 0
    await b!.stop();
    expect(b!.exitCode()).toBe(0);
    expect(b!.logs().some((l) => l.msg === 'stopped')).toBe(true);
    b = null;
  }, 180_000);
});
