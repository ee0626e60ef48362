/**
 * Early termination (art. 4.6), fault reports (art. 5.2), the outage log and the outage refund (art. 5.3) with real
 * PostgreSQL, Redis, the real charging engine (on a manual clock: a call is live during a refund) and the outbox
 * writer; the operator commands through the real CLI (runCli in-process). No SIP here: the SIP instance that would
 * cut a terminated tenant's call is not running, so the test ends that call itself (the e2e suites cover cutting).
 */
import { runCliIn, type CliRun } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testChargingRedis, testKeys as keys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { loadConfig } from '../../src/config/config.js';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import { importMissingYears, loadCalendar } from '../../src/calendar/load.js';
import type { WorkingCalendar } from '../../src/calendar/calendar.js';
import { createTenant, getTenant, setTenantRatePlan } from '../../src/tenants/tenants.js';
import { createOrder } from '../../src/tenants/orders.js';
import { creditTenant } from '../../src/tenants/credits.js';
import { listReceivables } from '../../src/tenants/receivables.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';
import { parseOutboxEvent } from '../../src/outbox/event.js';
import { writeEvent } from '../../src/outbox/cdr-writer.js';
import { runLateFees } from '../../src/services/billing.js';
import { listFaultReports, listOutages, reportFault } from '../../src/services/outages.js';
import { refundOutage, terminateEarly } from '../../src/services/termination.js';
import { showStatement } from '../../src/services/statements.js';
import type { ServiceDeps } from '../../src/services/context.js';
import { ManualClock } from '../charging/manual-clock.js';

const TZ = 'Asia/Shanghai';
const OP = { kind: 'operator' as const, id: 'noc-1' };
const sh = (s: string): Date => new Date(`${s}+08:00`);
let db: TestDb;
let redis: ChargingRedis;
let prefix: string;
let deps: ServiceDeps;
let cal: WorkingCalendar;
let engine: Engine;
let now = sh('2026-01-05T10:00:00'); // business time of the operations
const at = (s: string): void => void (now = sh(s));
const clock = new ManualClock(sh('2026-03-02T10:00:00').getTime()); // the engine's, for the call live during the refund

beforeAll(async () => {
  db = await createTestDb();
  prefix = testPrefix();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
  const config = loadConfig({}, { 'postgres.url': db.url, 'redis.keyPrefix': prefix, 'charging.sliceSeconds': 10 });
  deps = { config, pool: db.pool, redis: async () => ({ redis, error: null }), logger: pino({ level: 'silent' }), now: () => now };
  engine = createChargingEngine({ redis, pool: db.pool, config, logger: deps.logger, instanceId: 'term', clock, sweepIntervalMs: 0 });
  await importMissingYears(db.pool);
  cal = await loadCalendar(db.pool, TZ);
  await db.pool.query(`insert into rate_plans (name) values ('plan-1')`);
  await db.pool.query(`insert into rate_deck_entries (rate_plan_id, prefix, price_per_minute) select id, '86', '0.600000' from rate_plans where name = 'plan-1'`);
  await db.pool.query(`insert into carrier_gateways (name, host) values ('gw-1', '10.0.0.1'), ('gw-2', '10.0.0.2')`);
});
afterAll(async () => {
  await engine.close();
  redis.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

function cli(args: string[]): Promise<CliRun> {
  return runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' });
}

/** A tenant with the demo order (11,000 prepaid + 420/year rent, one number), paid at signing. */
async function contract(code: string, signedAt: Date, paid = true): Promise<bigint> {
  const t = await setTenantRatePlan(db.pool, (await createTenant(db.pool, { code, legalName: `${code} 有限公司` })).id, 'plan-1');
  const o = await createOrder(db.pool, { tenantId: t.id, orderNo: `${code}-1`, packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
    rent: { amountFen: 42_000n, period: 'year' }, paid, numbers: [`+86571${String(8_000_000 + Number(t.id)).padStart(8, '0')}`], signedAt }, cal);
  expect(o.order.totalFen).toBe(1_142_000n);
  return t.id;
}

async function drainOutbox(): Promise<void> {
  for (const shard of keys.all()) {
    for (const [id, f] of await redis.xrange(keys.outbox(shard), '-', '+')) {
      const ev = parseOutboxEvent(f[1]!);
      if (ev.ok) await writeEvent(db.pool, ev.event, id);
    }
  }
}

async function count(sql: string, args: unknown[] = []): Promise<number> {
  return Number((await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from (${sql}) x`, args)).rows[0]!.n);
}

describe('early termination (art. 4.6)', () => {
  it('posts 30% of the contract value (rounded down) as a receivable due in 3 working days, terminates, reclaims, cuts; once', async () => {
    at('2026-01-05T10:00:00');
    const id = await contract('early', now);
    at('2026-04-01T10:00:00'); // Wednesday; Qingming 04-04..06 off
    const r = await terminateEarly(deps, OP, { tenant: 'early' });
    expect(r).toMatchObject({ duplicate: false, orderNo: 'early-1', contractValueFen: 1_142_000n, feeFen: 342_600n, numbersReclaimed: 1, redis: 'applied' });
    expect(r.fee).toMatchObject({ kind: 'early_termination', amountFen: 342_600n, accruesLateFee: true });
    expect(r.fee!.dueAt).toEqual(sh('2026-04-08T00:00:00')); // Thu 04-02, Fri 04-03, Tue 04-07
    expect(r.owedFen).toBe(342_600n);
    expect((await getTenant(db.pool, 'early')).status).toBe('terminated');
    expect(await redis.hget(keys.tenant(id.toString()), 'status')).toBe('terminated'); // SIP instances cut live calls on this
    expect(await count(`select 1 from numbers where tenant_id = $1 and state <> 'reclaimed'`, [id.toString()])).toBe(0);
    expect(await count(`select 1 from audit_log where action = 'tenant.terminate-early' and actor_id = 'noc-1'`)).toBe(1);
    const notice = (await db.pool.query<{ payload: Record<string, string> }>(`select payload from notifications where kind = 'terminated' and tenant_id = $1`, [id.toString()])).rows;
    expect(notice.map((n) => n.payload.earlyTerminationFeeFen)).toEqual(['342600']);
    // the balance is not refunded: still in the paid bucket (cleared at its expiry, the service period end)
    expect((await tenantBuckets(db.pool, id)).map((b) => b.balanceFen)).toEqual([1_100_000n]);

    const again = await terminateEarly(deps, OP, { tenant: 'early' });
    expect(again).toMatchObject({ duplicate: true, feeFen: 342_600n, redis: 'skipped' });
    expect((await listReceivables(db.pool, id)).filter((x) => x.kind === 'early_termination')).toHaveLength(1);

    // arrears stay collectable: the fee bears late fees after its due day though the tenant is terminated
    at('2026-04-10T00:10:00');
    const fees = (await runLateFees(deps, OP, {})).find((x) => x.tenant === 'early')!;
    expect(fees.issued.map((f) => [f.feeDay, f.amountFen])).toEqual([['2026-04-08', 1027n], ['2026-04-09', 1027n], ['2026-04-10', 1027n]]);
  });

  it('is refused for a tenant terminated otherwise, past its period, or with no order; the CLI says why (exit 2)', async () => {
    at('2026-01-05T10:00:00');
    await contract('ended', now);
    at('2027-02-01T10:00:00');
    await expect(terminateEarly(deps, OP, { tenant: 'ended' })).rejects.toThrow(/that is the period end/);
    await createTenant(db.pool, { code: 'noorder', legalName: 'No Order Co.' });
    await expect(terminateEarly(deps, OP, { tenant: 'noorder' })).rejects.toThrow(/no order in force/);
    await expect(terminateEarly(deps, { kind: 'tenant', id: 't', tenantId: 1n }, { tenant: 'noorder' })).rejects.toThrow(/for operators only/);
    const r = await cli(['tenant', 'terminate', 'noorder', '--early']);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/no order in force/)]);
  });

  it('through the CLI at the wall clock: fee line and the receivable', async () => {
    await contract('clicancel', new Date());
    const r = await cli(['tenant', 'terminate', 'clicancel', '--early', '--reason', 'moving to another carrier']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/contract value \(order clicancel-1 contract total\) 11420\.00 CNY → early-termination fee 30% = 3426\.00 CNY/);
    expect((await getTenant(db.pool, 'clicancel')).statusReason).toBe('moving to another carrier');
  });
});

describe('fault reports (art. 5.2) and the outage log', () => {
  it('a report is on time until the end of the first working day after the day of finding; late ones are flagged', async () => {
    await contract('faulty', sh('2026-01-05T10:00:00'));
    at('2026-09-21T18:00:00');
    const ok = await reportFault(deps, OP, { tenant: 'faulty', foundAt: sh('2026-09-18T18:00:00'), description: 'calls fail with 503' });
    expect(ok.report).toMatchObject({ onTime: false, reportBy: sh('2026-09-21T00:00:00'), reportedBy: 'operator:noc-1' }); // Sun 09-20 was a working day
    const tenant = { kind: 'tenant' as const, id: 'tok-1', tenantId: (await getTenant(db.pool, 'faulty')).id };
    at('2026-09-30T20:00:00');
    const t = await reportFault(deps, tenant, { tenant: 'faulty', foundAt: sh('2026-09-30T10:00:00'), description: '  one-way audio  ' });
    expect(t.report).toMatchObject({ onTime: true, reportBy: sh('2026-10-09T00:00:00'), description: 'one-way audio', reportedBy: 'tenant:tok-1', reportedAt: now });
    await expect(reportFault(deps, tenant, { tenant: 'faulty', description: 'x', reportedAt: sh('2026-09-30T09:00:00') })).rejects.toThrow(/time of the request/);
    await expect(reportFault(deps, tenant, { tenant: 'early', description: 'x' })).rejects.toThrow(/no tenant "early"/);
    await expect(reportFault(deps, OP, { tenant: 'faulty', description: 'x', foundAt: sh('2026-10-01T00:00:00') })).rejects.toThrow(/found before it is reported/);
    await expect(reportFault(deps, OP, { tenant: 'faulty', description: ' ' })).rejects.toThrow(/1-2000/);
    expect((await listFaultReports(deps, tenant)).map((f) => f.description)).toEqual(['one-way audio', 'calls fail with 503']);
    await expect(listOutages(deps, tenant)).rejects.toThrow(/operator/);
  });

  it('outage list: gateway periods and carrier outages (all gateways down) with the working days they touched', async () => {
    await db.pool.query(`insert into gateway_outages (gateway, down_at, up_at, down_seen_by, up_seen_by) values
      ('gw-1', $1, $2, 'sip-1', 'sip-1'), ('gw-2', $3, $4, 'sip-2', 'sip-2'), ('gw-2', $5, null, 'sip-1', null)`,
    [sh('2026-02-02T10:00:00'), sh('2026-02-28T09:00:00'), sh('2026-02-01T00:00:00'), sh('2026-03-01T00:00:00'), sh('2026-06-01T00:00:00')]);
    at('2026-06-02T12:00:00');
    const r = await listOutages(deps, OP, { from: sh('2026-01-01T00:00:00') });
    expect(r.enabledGateways).toEqual(['gw-1', 'gw-2']);
    expect(r.gateways.map((g) => [g.gateway, g.workingDays, g.ongoing])).toEqual([['gw-2', 16, false], ['gw-1', 16, false], ['gw-2', 2, true]]);
    expect(r.carrier.map((c) => [c.from, c.to, c.workingDays])).toEqual([[sh('2026-02-02T10:00:00'), sh('2026-02-28T09:00:00'), 16]]);
    const text = await cli(['outage', 'list', '--gateway', 'gw-2']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/gw-2 .* still down/);
    expect(text.stdout).not.toMatch(/ gw-1 /);
    expect(text.stdout).toMatch(/carrier outages \(all of gw-1, gw-2 down\):\n.*\n2026-02-02T02:00:00.000Z\s+2026-02-28T01:00:00.000Z\s+16/);
  });
});

describe('outage refund (art. 5.3)', () => {
  it('refused without the outage in the log and an on-time fault report; nothing changes', async () => {
    at('2026-03-02T10:00:00');
    await expect(refundOutage(deps, OP, { tenant: 'faulty', reason: 'outage' })).rejects.toThrow(/reported no fault found during it on time .*--override/);
    expect((await getTenant(db.pool, 'faulty')).status).toBe('active');
    expect(await count('select 1 from refunds')).toBe(0);
    const r = await cli(['tenant', 'refund', 'faulty', '--reason', 'outage']);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/no outage refund for faulty/)]);
    const noRedis = { ...deps, redis: async () => ({ redis: null, error: 'connection refused' }) };
    await expect(refundOutage(noRedis, OP, { tenant: 'faulty', reason: 'outage', override: 'ticket 1' })).rejects.toThrow(/Redis is unreachable .*nothing was changed/);
    expect(await count('select 1 from refunds')).toBe(0);
  });

  it('refunds the paid balance (not gift) with the log as evidence; a live call\'s hold (engine on a manual clock) is refunded by the next run; the ledger and the statement tie', async () => {
    at('2026-01-05T10:00:00');
    const id = await contract('outy', now);
    const tid = id.toString();
    const gift = await creditTenant(db.pool, { tenantId: id, kind: 'gift', amountFen: 50_000n, validFrom: now, expiresAt: null, idempotencyKey: 'gift:outy', bookedAt: now });
    // found during the carrier outage (02-02 10:00 → 02-28 09:00, 16 working days), reported the next morning
    at('2026-02-03T09:00:00');
    await reportFault(deps, OP, { tenant: 'outy', foundAt: sh('2026-02-02T11:00:00'), description: 'no outbound call connects' });
    // a call is live when the refund runs (its SIP instance has not ended it: no SIP here)
    at('2026-03-02T10:00:00');
    const g = await engine.authorize({ callId: 'live-1', tenantId: tid, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
    expect(g.ok).toBe(true);
    const answerAt = clock.now();
    await engine.answered('live-1', answerAt, () => undefined);
    await clock.advance(30_000, () => engine.idle());
    const held = BigInt((await redis.hget(keys.call(keys.shardOfTenant(tid), 'live-1'), 'held'))!);
    expect(held).toBeGreaterThan(0n);

    const r1 = await refundOutage(deps, OP, { tenant: 'outy', reason: 'outage', waitSeconds: 0 });
    expect(r1.check).toMatchObject({ eligible: true, outage: { workingDays: 16, from: sh('2026-02-02T10:00:00') } });
    expect(r1).toMatchObject({ terminated: true, liveCalls: 1, giftFen: 50_000n, redis: 'applied' });
    expect(r1.refundedFen).toBe(1_100_000n - held);
    expect(r1.buckets).toEqual([{ bucketId: expect.any(String), amountFen: 1_100_000n - held, ledger: 'written' }]);
    expect(r1.refund.transfers.map((x) => x.amountFen)).toEqual([1_100_000n - held]);
    expect((await getTenant(db.pool, 'outy')).status).toBe('terminated');
    expect(await redis.hget(keys.tenant(tid), 'status')).toBe('terminated');
    const paidBucket = r1.buckets[0]!.bucketId;
    expect(await redis.hget(keys.buckets(tid), paidBucket)).toBe('0');
    expect(await redis.hget(keys.buckets(tid), gift.bucketId.toString())).toBe('50000'); // gift credit excluded
    const tr = (await db.pool.query<{ kind: string; idempotency_key: string; debit: string; credit: string }>(
      `select t.kind, t.idempotency_key, d.code as debit, c.code as credit from ledger_transfers t join ledger_accounts d on d.id = t.debit_account_id
         join ledger_accounts c on c.id = t.credit_account_id where t.kind = 'refund'`)).rows;
    expect(tr).toEqual([{ kind: 'refund', idempotency_key: `refund:${r1.refund.id}:${paidBucket}`, debit: `tenant:${tid}:bucket:${paidBucket}`, credit: 'cash' }]);

    // the call ends (30 s at 0.60 CNY/min = 30 fen); the rest of its hold returns to the paid bucket
    const fin = await engine.finish({ callId: 'live-1', aCallId: 'a-live-1', bCallId: 'b-live-1', tenantId: tid, caller: '+8657100000001', callee: '8613800138000',
      ingressTrunk: 'ccc', gateway: 'gw-1', inviteAt: answerAt - 2000, ringAt: null, answerAt, endAt: clock.now(), sipStatus: 200, result: 'answered',
      rejectReason: null, disconnectSide: 'system', disconnectReason: 'tenant terminated' });
    expect(fin.chargeFen).toBe(30n);
    await drainOutbox(); // the consumer finds the refund event already written (duplicate) and writes the call
    expect(BigInt((await redis.hget(keys.buckets(tid), paidBucket))!)).toBe(held - 30n);
    // a second run refunds what came back; the evidence is the same
    const r2 = await refundOutage(deps, OP, { tenant: 'outy', reason: 'outage', waitSeconds: 0 });
    expect(r2).toMatchObject({ terminated: false, liveCalls: 0, refundedFen: held - 30n });
    expect(r1.refundedFen + r2.refundedFen + fin.chargeFen).toBe(1_100_000n);
    const third = await refundOutage(deps, OP, { tenant: 'outy', reason: 'outage', waitSeconds: 0 });
    expect(third.refundedFen).toBe(0n);
    // ledger: paid bucket 0, gift kept, every account equals its transfers
    const buckets = await tenantBuckets(db.pool, id);
    expect(buckets.map((b) => [b.kind, b.balanceFen])).toEqual([['paid', 0n], ['gift', 50_000n]]);
    expect(await inconsistentAccounts(db.pool)).toEqual([]);
    // the March statement ties (assertTies) and lists both refunds
    const s = await showStatement(deps, OP, { tenant: 'outy', month: '2026-03' });
    expect(s.refunds.reduce((x, l) => x + l.amountFen, 0n)).toBe(1_100_000n - 30n);
    expect(s.balances.paid.closingFen).toBe(0n);
    expect(s.balances.gift.closingFen).toBe(50_000n);
    expect(await count(`select 1 from audit_log where action = 'tenant.refund'`)).toBe(3);
    expect(await count(`select 1 from notifications where kind = 'refund' and tenant_id = $1`, [tid])).toBeGreaterThanOrEqual(3);
  });

  it('with an operator override when the log does not show it: recorded on the refund and in the audit log (CLI)', async () => {
    await contract('frozen', new Date());
    const r = await cli(['tenant', 'refund', 'frozen', '--reason', 'outage', '--override', 'numbers frozen by the carrier, ticket 4411', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { refundedFen: string; refund: { override: string; outage: null }; check: { eligible: boolean } };
    expect(out).toMatchObject({ refundedFen: '1100000', refund: { override: 'numbers frozen by the carrier, ticket 4411', outage: null }, check: { eligible: false } });
    const audit = (await db.pool.query<{ detail: { override: string; notEligibleBecause: string } }>(`select detail from audit_log where action = 'tenant.refund' and detail->>'override' is not null`)).rows;
    expect(audit.map((a) => a.detail.override)).toEqual(['numbers frozen by the carrier, ticket 4411']);
    expect(audit[0]!.detail.notEligibleBecause).toMatch(/carrier outage|fault/);
  });
});
