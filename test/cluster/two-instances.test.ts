/**
 * Two app instances (separate processes, src/main.ts as deployed), each behind its own real drachtio-server 0.9.4
 * (../shared/drachtio-server), sharing one Redis Cluster (3 masters + 3 replicas, REDIS_MODE=cluster) and one
 * PostgreSQL. One tenant's concurrent calls are spread over
 * both; instance A is killed with SIGKILL mid-call. Its calls are reclaimed by B after their lease and billed
 * within the documented bound (docs/charging.md "Crash recovery", docs/scaling.md: at most one charging slice past
 * the kill), B's calls go on until the shared balance runs out, and nothing is overdrawn: the ledger balance stays
 * ≥ 0, every CDR is charged once, and Redis agrees with the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { startAppProcess, type AppProcess } from '../helpers/app-process.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { startOwnCluster, type OwnCluster } from '../helpers/own-redis-cluster.js';
import { testChargingRedis, testPrefix } from '../helpers/redis.js';
import { killSipps, scenarioFor } from '../e2e/harness.js';
import { seedTenant } from '../helpers/tenants.js';
import { cdrsSince, metricsText, placeCalls, readyz, sample, startCarrier, waitActiveCalls } from '../e2e/topology-fixture.js';

const missing = drachtioServerMissing();
const CALLS_PER_INSTANCE = 6;
const SLICE_SECONDS = 5; // CHARGING_SLICE_SECONDS of both instances: the reclaim bound is one slice
const PRICE_PER_MINUTE = '60'; // 100 fen per second and call: the shared balance runs out within the test
const BALANCE_FEN = 12_000n;
const CALLER = '+8613900001111';

let db: TestDb;
let redis: ChargingRedis;
let cluster: OwnCluster;
const prefix = testPrefix();
const servers: DrachtioServer[] = [];
const apps: AppProcess[] = [];
let tenantId = '';
let carrierPort = 0;

describe.skipIf(missing !== null)(`two app instances behind two real drachtio-servers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    db = await createTestDb();
    cluster = await startOwnCluster();
    redis = testChargingRedis(prefix, { mode: 'cluster', clusterNodes: cluster.startupNodes });
    await waitReady(redis);
    carrierPort = await freePort();
    await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-test', '127.0.0.1')`);
    await db.pool.query(`insert into carrier_gateways (name, host, port) values ('carrier', '127.0.0.1', $1)`, [carrierPort]);
    tenantId = await seedTenant(db.pool, redis, { code: 'acme', number: CALLER, balanceFen: BALANCE_FEN, pricePerMinute: PRICE_PER_MINUTE, maxCps: 100 });
    for (let i = 0; i < 2; i++) servers.push(await startDrachtioServer({ transports: ['udp'] }));
    // each instance behind its own server; same database, same Redis key space
    for (const d of servers) {
      apps.push(await startAppProcess({
        DATABASE_URL: db.url, DATABASE_POOL_SIZE: '5', REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: cluster.startupNodes.join(','), REDIS_KEY_PREFIX: prefix,
        DRACHTIO_SERVERS: `127.0.0.1:${d.controlPort}`, DRACHTIO_SECRET: d.secret,
        DEMO_AUTO_SEED: 'false', SCHEDULER_ENABLED: 'false', MAINTENANCE_INTERVAL_SECONDS: '3600', SIP_OPTIONS_PING_SECONDS: '0',
        CHARGING_SLICE_SECONDS: String(SLICE_SECONDS), CHARGING_LEASE_GRACE_SECONDS: '2', DRAIN_SECONDS: '1',
      }));
    }
  }, 120_000);

  afterAll(async () => {
    killSipps();
    for (const a of apps) await a.stop();
    for (const d of servers) await d.stop();
    await redis?.quit().catch(() => undefined);
    await cluster?.destroy();
    await db?.drop();
  });

  it('spreads one tenant\'s calls over both; SIGKILL of one: its calls reclaimed and billed within one slice, no overdraft', async () => {
    const [a, b] = apps as [AppProcess, AppProcess];
    const t0 = new Date();
    const { done: carrierDone } = await startCarrier(carrierPort, 2 * CALLS_PER_INSTANCE);
    void carrierDone; // the killed instance's calls never end cleanly on the carrier side: not asserted
    const scenario = scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'balance exhausted' });
    const viaA = placeCalls(servers[0]!.sipPort, scenario, { caller: CALLER, holdMs: 60_000, calls: CALLS_PER_INSTANCE, rate: 20 });
    const viaB = placeCalls(servers[1]!.sipPort, scenario, { caller: CALLER, holdMs: 60_000, calls: CALLS_PER_INSTANCE, rate: 20 });
    void viaA; // their instance dies under them
    await waitActiveCalls(a.base, CALLS_PER_INSTANCE, 30_000);
    await waitActiveCalls(b.base, CALLS_PER_INSTANCE, 30_000);
    await new Promise((r) => setTimeout(r, 2000)); // some talk to bill

    const killAt = Date.now();
    await a.kill();

    // B keeps serving: ready, its calls go on until the shared balance is gone, each cut with a BYE saying so
    expect((await readyz(b.base)).status).toBe(200);
    expect(await viaB).toMatchObject({ successful: CALLS_PER_INSTANCE, failed: 0 });

    // every call has its CDR: B's own (balance exhausted) and A's, reclaimed by B after their lease
    const cdrs = await cdrsSince(db.pool, t0, 2 * CALLS_PER_INSTANCE, 60_000);
    expect(cdrs).toHaveLength(2 * CALLS_PER_INSTANCE);
    expect(cdrs.every((c) => c.result === 'answered')).toBe(true);
    const reclaimed = cdrs.filter((c) => /^instance .* lost: reclaimed after lease expiry$/.test(c.disconnect_reason ?? ''));
    const cut = cdrs.filter((c) => c.disconnect_reason === 'balance exhausted');
    expect(reclaimed).toHaveLength(CALLS_PER_INSTANCE);
    expect(cut).toHaveLength(CALLS_PER_INSTANCE);
    // the bound: a reclaimed call is billed up to the end of the slice it held when its instance died, so at least
    // its talk until the kill and at most one slice more (whole seconds, a started second counts)
    for (const c of reclaimed) {
      const talkAtKill = (killAt - c.answer_at!.getTime()) / 1000;
      expect(c.billable_seconds, c.call_id).toBeGreaterThanOrEqual(Math.floor(talkAtKill) - 1);
      expect(c.billable_seconds, c.call_id).toBeLessThanOrEqual(Math.ceil(talkAtKill) + SLICE_SECONDS + 1);
      expect(BigInt(c.charge_fen)).toBe(BigInt(c.billable_seconds) * 100n);
    }
    expect(Number(sample(await metricsText(b.base), 'softswitch_active_calls'))).toBe(0);

    // no overdraft, every call charged once, Redis = ledger
    const charged = (await db.pool.query<{ s: string; n: string }>(
      `select coalesce(sum(amount_fen), 0)::text as s, count(distinct call_id)::text as n from ledger_transfers where tenant_id = $1 and kind = 'call_charge'`, [tenantId])).rows[0]!;
    const cdrTotal = cdrs.reduce((s, c) => s + BigInt(c.charge_fen), 0n);
    expect(BigInt(charged.s)).toBe(cdrTotal);
    expect(Number(charged.n)).toBe(2 * CALLS_PER_INSTANCE);
    expect(cdrTotal).toBeLessThanOrEqual(BALANCE_FEN);
    const left = (await db.pool.query<{ s: string }>(
      `select coalesce(sum(credits_posted - debits_posted), 0)::text as s from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId])).rows[0]!;
    expect(BigInt(left.s)).toBe(BALANCE_FEN - cdrTotal);
    expect(BigInt(left.s)).toBeGreaterThanOrEqual(0n);
    const report = await reconcile({ pool: db.pool, redis, tenantId, repair: false });
    expect(report.driftTenants).toBe(0);
    expect(report.ledgerInconsistent).toEqual([]);
  }, 180_000);
});
