/**
 * No orphaned carrier legs (docs/sip.md "Orphaned carrier legs"). The product runs as a real child
 * process (src/main.ts), behind the embedded edge (`npm test`) or a real drachtio-server 0.9.4
 * (`SIP_TEST_TARGET=drachtio`, `npm run test:drachtio`). A call goes through it to a carrier sipp that honours the
 * session timer the app asks for (call-uas-session-timer.xml: refresher=uas, a refresh every half interval, BYE when a
 * refresh fails or gets no answer). Right after the carrier's first refresh was answered (the worst moment: a whole
 * half interval before the next one) the app is killed with SIGKILL. The carrier leg must end within the documented
 * bound, measured by the carrier's own log; then the app is restarted and its sweeper reclaims the dead instance's
 * call: one CDR, one ledger charge, nothing of the call left in Redis. (A second instance's sweeper reclaiming a
 * killed instance's calls is test/cluster/two-instances.test.ts and the tests of the sweeper itself.)
 *
 * One test: the minimum session interval is 90 s, so it runs about two and a half minutes.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { startAppProcess, type AppProcess } from '../helpers/app-process.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { eventually } from '../helpers/poll.js';
import { freePort } from '../helpers/ports.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { seedTenant } from '../helpers/tenants.js';
import { waitForListener } from '../edge/support.js';
import { killSipps, runSipp, scenarioFor, type CdrRow, type SippResult } from './harness.js';
import { SIP_TEST_TARGET } from './sip-target.js';
import { metricsText, sample } from './topology-fixture.js';

/** The documented bound (docs/sip.md): a refresh due half an interval after the last answered one, then the
 * carrier's INVITE transaction timeout (Timer B = 64·T1 = 32 s) before it gives up and sends BYE. */
const SESSION_EXPIRES = 90;
const TIMER_B = 32;
const BOUND_SECONDS = SESSION_EXPIRES / 2 + TIMER_B;
/** Slack for a loaded 2-core machine (process start, sipp scheduling); not part of the bound. */
const SLACK_SECONDS = 20;
const SLICE_SECONDS = 10;
const GRACE_SECONDS = 2;
const CALLER = '+8613900002222';
const PRICE_PER_MINUTE = '6'; // 10 fen per second
const BALANCE_FEN = 100_000n;

const missing = SIP_TEST_TARGET === 'drachtio' ? drachtioServerMissing() : null;

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();
let drachtio: DrachtioServer | null = null;
const apps: AppProcess[] = [];
let tenantId = '';
let carrierPort = 0;
let sipPort = 0;
let targetEnv: Record<string, string> = {};
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

function appEnv(): Record<string, string> {
  return {
    DATABASE_URL: db.url, DATABASE_POOL_SIZE: '5', REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
    DEMO_AUTO_SEED: 'false', SCHEDULER_ENABLED: 'false', MAINTENANCE_INTERVAL_SECONDS: '3600', SIP_OPTIONS_PING_SECONDS: '0',
    CHARGING_SLICE_SECONDS: String(SLICE_SECONDS), CHARGING_LEASE_GRACE_SECONDS: String(GRACE_SECONDS), DRAIN_SECONDS: '1',
    SIP_SESSION_EXPIRES_SECONDS: String(SESSION_EXPIRES), ...targetEnv,
  };
}

/** The carrier's log lines (`<event> <epoch seconds> [detail]`), see call-uas-session-timer.xml. */
function carrierEvents(file: string): { event: string; at: number; detail: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => /^\S+ \d/.test(l)).map((l) => {
    const [event, at, ...rest] = l.trim().split(/\s+/);
    return { event: event!, at: Number(at) * 1000, detail: rest.join(' ') };
  });
}

describe.skipIf(missing !== null)(`orphaned carrier leg after SIGKILL (${SIP_TEST_TARGET})${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    db = await createTestDb();
    redis = testChargingRedis(prefix);
    await waitReady(redis);
    carrierPort = await freePort();
    await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-test', '127.0.0.1')`);
    await db.pool.query(`insert into carrier_gateways (name, host, port) values ('carrier', '127.0.0.1', $1)`, [carrierPort]);
    tenantId = await seedTenant(db.pool, redis, { code: 'orphan', number: CALLER, balanceFen: BALANCE_FEN, pricePerMinute: PRICE_PER_MINUTE });
    if (SIP_TEST_TARGET === 'drachtio') {
      // the server outlives the app, as in production
      drachtio = await startDrachtioServer({ transports: ['udp'] });
      sipPort = drachtio.sipPort;
      targetEnv = { DRACHTIO_SERVERS: `127.0.0.1:${drachtio.controlPort}`, DRACHTIO_SECRET: drachtio.secret };
    } else {
      // the edge lives and dies with the app process
      sipPort = await freePort();
      targetEnv = { SIP_HOST: '127.0.0.1', SIP_PORT: String(sipPort), SIP_TRANSPORTS: 'udp', DRACHTIO_PORT: String(await freePort()) };
    }
    apps.push(await startAppProcess(appEnv()));
  }, 120_000);

  afterAll(async () => {
    killSipps();
    for (const a of apps) await a.kill();
    await drachtio?.stop(failed);
    await redis?.quit().catch(() => undefined);
    await deleteKeys(TEST_REDIS_URL, prefix).catch(() => undefined);
    await db?.drop();
  });

  it('SIGKILL mid-call: the carrier ends its leg within SE/2 + 32 s; a restarted instance reclaims and bills the call once; nothing left in Redis', async () => {
    const first = apps[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'orphan-'));
    const log = join(dir, 'carrier.log');
    const carrierScenario = scenarioFor('call-uas-session-timer.xml', { HALF_MS: (SESSION_EXPIRES / 2) * 1000, SE_SECONDS: SESSION_EXPIRES });
    const carrier: Promise<SippResult> = runSipp(carrierScenario, ['-p', String(carrierPort), '-m', '1', '-trace_logs', '-log_file', log], '127.0.0.1', 400);
    await waitForListener(carrierPort, 'udp');
    // the caller talks far longer than the test; it is killed at the end (its leg is the call center's, not billed to us)
    const caller = runSipp('call-uac-answer.xml', [
      `127.0.0.1:${sipPort}`, '-p', String(await freePort()), '-m', '1', '-s', '13800138000', '-key', 'caller', CALLER, '-d', '600000',
    ], '127.0.0.1', 400);
    void caller;

    // answered, and the carrier's first refresh (half an interval later) answered by the live app
    await eventually('the call to be answered', () => carrierEvents(log).some((e) => e.event === 'answered'), 30_000, 200);
    await eventually('the active call on the app', async () => sample(await metricsText(first.base), 'softswitch_active_calls') === 1, 15_000, 200);
    await eventually('the carrier\'s first session refresh answered', () => carrierEvents(log).some((e) => e.event === 'refreshed'), (SESSION_EXPIRES / 2 + TIMER_B + SLACK_SECONDS) * 1000, 200);
    expect(carrierEvents(log).some((e) => e.event.startsWith('refresh-') || e.event.startsWith('bye-'))).toBe(false);

    // the worst moment: the next refresh is a whole half interval away
    const killAt = Date.now();
    await first.kill();

    // the carrier leg ends on the carrier's side: its next refresh fails or goes unanswered, it sends BYE
    const ended = await eventually('the carrier to end its leg', () => carrierEvents(log).find((e) => e.event === 'bye-out' || e.event === 'bye-in'),
      (BOUND_SECONDS + SLACK_SECONDS + 10) * 1000, 500);
    const events = carrierEvents(log);
    expect(events.filter((e) => e.event === 'refreshed')).toHaveLength(1); // nothing refreshed the leg after the kill
    const carrierEnd = ended.at;
    console.log(`orphaned carrier leg (${SIP_TEST_TARGET}): ${events.map((e) => `${e.event}${e.detail ? `(${e.detail})` : ''} +${((e.at - killAt) / 1000).toFixed(1)} s`).join(', ')} (relative to the kill)`);
    expect((carrierEnd - killAt) / 1000).toBeLessThanOrEqual(BOUND_SECONDS + SLACK_SECONDS);
    const carrierResult = await carrier;
    expect(carrierResult, carrierResult.errors).toMatchObject({ successful: 1, failed: 0 });

    // restarted (as systemd would): its sweeper reclaims the dead instance's call after its lease
    const second = await startAppProcess(appEnv());
    apps.push(second);
    const cdr = await eventually('the reclaimed call\'s CDR', async () => {
      const r = await db.pool.query<CdrRow>('select * from cdrs where tenant_id = $1', [tenantId]);
      return r.rows.length > 0 ? r.rows : null;
    }, 60_000, 250);
    expect(cdr).toHaveLength(1);
    const c = cdr[0]!;
    expect(c).toMatchObject({ result: 'answered', disconnect_side: 'system' });
    expect(c.disconnect_reason).toMatch(/^instance .* lost: reclaimed after lease expiry$/);
    expect(second.logs().some((l) => l.msg === 'reclaimed call of a lost instance' && l.callId === c.call_id)).toBe(true);
    // billed to the end of the grant it held at the kill: its talk until then, at most one slice more
    const talkAtKill = (killAt - c.answer_at!.getTime()) / 1000;
    expect(c.billable_seconds).toBeGreaterThanOrEqual(Math.floor(talkAtKill) - 1);
    expect(c.billable_seconds).toBeLessThanOrEqual(Math.ceil(talkAtKill) + SLICE_SECONDS + 1);
    expect(BigInt(c.charge_fen)).toBe(BigInt(c.billable_seconds) * 10n);
    // the unmetered seconds: what the carrier leg ran past the billed end, within the documented bound
    const unmetered = (carrierEnd - (c.answer_at!.getTime() + c.billable_seconds * 1000)) / 1000;
    console.log(`billed ${c.billable_seconds} s, talk at kill ${talkAtKill.toFixed(1)} s, carrier leg ${((carrierEnd - c.answer_at!.getTime()) / 1000).toFixed(1)} s: ${unmetered.toFixed(1)} s unmetered (bound ${BOUND_SECONDS} s)`);
    expect(unmetered).toBeLessThanOrEqual(BOUND_SECONDS + SLACK_SECONDS);

    // billed once: one charge in the ledger, equal to the CDR; Redis agrees with the ledger
    await eventually('the ledger charge', async () => {
      const r = await db.pool.query<{ n: string }>(`select count(*)::text as n from ledger_transfers where tenant_id = $1 and kind = 'call_charge'`, [tenantId]);
      return r.rows[0]!.n !== '0';
    }, 30_000, 250);
    const charges = (await db.pool.query<{ call_id: string; amount_fen: string }>(
      `select call_id, amount_fen::text from ledger_transfers where tenant_id = $1 and kind = 'call_charge'`, [tenantId])).rows;
    expect(charges).toEqual([{ call_id: c.call_id, amount_fen: String(c.charge_fen) }]);
    const left = (await db.pool.query<{ s: string }>(
      `select coalesce(sum(credits_posted - debits_posted), 0)::text as s from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId])).rows[0]!;
    expect(BigInt(left.s)).toBe(BALANCE_FEN - BigInt(c.charge_fen));
    const report = await reconcile({ pool: db.pool, redis, tenantId, repair: false });
    expect(report.driftTenants).toBe(0);
    expect(report.ledgerInconsistent).toEqual([]);

    // nothing of the call left in Redis: no call state, no lease, not among the tenant's live calls or limit slots
    const k = redis.layout;
    const shard = k.shardOfTenant(tenantId);
    expect(await redis.exists(k.call(shard, c.call_id))).toBe(0);
    expect(await redis.zscore(k.leases(shard), c.call_id)).toBeNull();
    expect(await redis.sismember(k.calls(tenantId), c.call_id)).toBe(0);
    expect(await redis.zscore(k.sipCalls(tenantId), c.call_id)).toBeNull();
    expect(await redis.exists(k.done(shard, c.call_id))).toBe(1); // the exactly-once marker, which is what keeps it billed once
    expect(Number(sample(await metricsText(second.base), 'softswitch_active_calls'))).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 360_000);
});
