/**
 * The demo contract through a simulated year on a fake clock, with the real scheduler, PostgreSQL, Redis, charging
 * engine and outbox writer. Calls go through the charging engine as the SIP layer drives it (authorize at INVITE,
 * answered, slices on the engine's manual clock, finish), and their outbox events are written to the ledger by the
 * outbox writer (writeEvent, as the consumer does). No SIP here: the SIP path has its own suites.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testChargingRedis, testKeys as keys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { loadConfig } from '../../src/config/config.js';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import { ManualClock } from '../charging/manual-clock.js';
import { parseOutboxEvent } from '../../src/outbox/event.js';
import { writeEvent } from '../../src/outbox/cdr-writer.js';
import type { ServiceDeps } from '../../src/services/context.js';
import { recordPayment, runLowBalance, showAccount } from '../../src/services/billing.js';
import { showStatement } from '../../src/services/statements.js';
import { createScheduler } from '../../src/jobs/scheduler.js';
import { jobsStatus } from '../../src/services/jobs.js';
import { importMissingYears, loadCalendar } from '../../src/calendar/load.js';
import { DEMO, DEMO_DECK } from '../../src/demo/seed.js';
import { createTenant, getTenant, setTenantRatePlan } from '../../src/tenants/tenants.js';
import { createOrder } from '../../src/tenants/orders.js';
import { addNumber, changeNumberState } from '../../src/tenants/numbers.js';
import { creditTenant } from '../../src/tenants/credits.js';
import { syncCredit, syncTenantState } from '../../src/tenants/sync.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';
import { monthLabel } from '../../src/calendar/zone.js';
import { reconcile } from '../../src/reconcile/reconcile.js';

const TZ = 'Asia/Shanghai';
const DAY = 86_400_000;
let db: TestDb;
let redis: ChargingRedis;
let prefix: string;
let now = new Date('2026-01-05T02:00:00Z'); // Monday 2026-01-05 10:00 Shanghai: signing and activation
let deps: ServiceDeps;
let engine: Engine;
const clock = new ManualClock(now.getTime()); // the charging engine's (slices, grants), moved call by call
const OP = { kind: 'operator' as const, id: 'noc' };

beforeAll(async () => {
  db = await createTestDb({ poolSize: 10 });
  prefix = testPrefix();
  redis = testChargingRedis(prefix);
  const config = loadConfig({}, { 'postgres.url': db.url, 'redis.keyPrefix': prefix, 'billing.overdueSuspendDays': 15 });
  deps = { config, pool: db.pool, redis: async () => ({ redis, error: null }), logger: pino({ level: 'silent' }), now: () => now };
  engine = createChargingEngine({ redis, pool: db.pool, config, logger: deps.logger, instanceId: 'sim-engine', clock, sweepIntervalMs: 0 });
  await importMissingYears(db.pool);
});
afterAll(async () => {
  await engine.close();
  redis.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

async function notices(kind: string): Promise<number> {
  return Number((await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from notifications where kind = $1`, [kind])).rows[0]!.n);
}

describe('the demo contract through a simulated year', () => {
  it('activation, payment, rent, calls, low balance, top-up, overdue with late fees and suspension, payment and reinstatement, renewal reminder, period end; every statement ties; the ledger balances', async () => {
    const scheduler = createScheduler({ deps, instanceId: 'sim-1', tickMs: 60_000, logger: deps.logger });
    const other = createScheduler({ deps, instanceId: 'sim-2', tickMs: 60_000, logger: deps.logger });
    const cal = await loadCalendar(db.pool, TZ);
    // ---- activation: the contract's order, unpaid at signing
    await db.pool.query(`insert into rate_plans (name) values ($1)`, [DEMO.ratePlan]);
    // the demo deck, plus a premium test destination so that ten 10-minute calls spend 1,000.00 CNY a month
    for (const [prefix, dest, price] of [...DEMO_DECK, ['86900', 'Premium (test)', '10.000000'] as const]) {
      await db.pool.query(`insert into rate_deck_entries (rate_plan_id, prefix, destination, price_per_minute) select id, $2, $3, $4 from rate_plans where name = $1`, [DEMO.ratePlan, prefix, dest, price]);
    }
    const t0 = await setTenantRatePlan(db.pool, (await createTenant(db.pool, { code: DEMO.tenantCode, legalName: '杭州示范企业有限公司', notifyEmail: 'ops@demo.example' })).id, DEMO.ratePlan);
    const order = await createOrder(db.pool, { tenantId: t0.id, orderNo: DEMO.orderNo, packageAmountFen: DEMO.packageAmountFen, packageCount: 1, validityMonths: 12,
      numberCount: 1, rent: DEMO.rent, paid: false, numbers: [DEMO.number], signedAt: now }, cal);
    expect(order.order.totalFen).toBe(1_142_000n);
    await changeNumberState(db.pool, DEMO.number, 'approve', 'documents on file');
    await syncTenantState(redis, await getTenant(db.pool, 'demo'));
    const tick = async () => scheduler.tick();
    const advanceTo = async (at: Date) => {
      while (now.getTime() < at.getTime()) {
        now = new Date(Math.min(now.getTime() + DAY, at.getTime()));
        await tick();
      }
    };
    expect((await tick()).leader).toBe(true);
    expect((await other.tick()).leader).toBe(false); // one instance at a time
    // ---- payment within the 3 working days (due Fri 2026-01-09 00:00): no late fee, packages credited
    now = new Date('2026-01-06T03:00:00Z');
    const paid = await recordPayment(deps, OP, { tenant: 'demo', amountFen: 1_142_000n, reference: 'BANK-0001' });
    expect(paid.credits.map((c) => c.amountFen)).toEqual([1_100_000n]);
    expect(paid.redis.credits).toEqual(['applied']);
    const bucket = paid.credits[0]!.bucketId;
    // ---- calls: 1,000.00 CNY a month Jan-Oct (10 calls of 10 minutes at 10.00 CNY/min), through the charging engine
    let callNo = 0;
    const drainOutbox = async () => {
      for (const shard of keys.all()) {
        for (const [id, f] of await redis.xrange(keys.outbox(shard), '-', '+')) {
          const ev = parseOutboxEvent(f[1]!);
          if (ev.ok) expect(['written', 'duplicate']).toContain(await writeEvent(db.pool, ev.event, id));
        }
      }
    };
    const callAt = async (endAt: Date, fen: bigint, callee = '8690012345678') => {
      callNo += 1;
      const id = `sim-${callNo}`;
      const answerAt = endAt.getTime() - 600_000;
      await clock.advance(answerAt - 1_000 - clock.now(), () => engine.idle());
      const g = await engine.authorize({ callId: id, tenantId: t0.id.toString(), calledNumber: callee, at: clock.now(), failurePolicy: 'terminate' });
      expect(g, `call ${id}`).toMatchObject({ ok: true });
      await clock.advance(1_000, () => engine.idle());
      let cut: number | null = null;
      await engine.answered(id, clock.now(), (at) => (cut = at));
      await clock.advance(600_000, () => engine.idle()); // slices are asked for and granted as the call goes on
      expect(cut).toBeNull();
      const fin = await engine.finish({ callId: id, aCallId: id, bCallId: `${id}-b`, tenantId: t0.id.toString(), caller: DEMO.number, callee, ingressTrunk: 'ccc',
        gateway: 'carrier', inviteAt: answerAt - 1_000, ringAt: answerAt - 500, answerAt, endAt: clock.now(), sipStatus: 200, result: 'answered',
        rejectReason: null, disconnectSide: 'caller', disconnectReason: 'caller BYE' });
      expect([fin.chargeFen, fin.billableSeconds, fin.duplicate]).toEqual([fen, 600, false]);
      await drainOutbox();
    };
    // ---- a second number on 2026-03-02: rent pro-rata, left unpaid → overdue, late fees, suspension
    let suspendedOn: string | null = null;
    let lowOn: string | null = null;
    for (let m = 0; m < 10; m++) {
      const month = new Date(Date.UTC(2026, m, 12, 2));
      await advanceTo(month);
      if (m === 2) {
        await addNumber(db.pool, { tenantId: t0.id, e164: '+8657188880001', rent: DEMO.rent, at: new Date('2026-03-02T02:00:00Z') });
      }
      if (m === 3) {
        const acc = await showAccount(deps, OP, { tenant: 'demo', openOnly: true });
        const rent2 = acc.receivables.find((r) => r.description.includes('+8657188880001'))!;
        expect(rent2.amountFen).toBe((42_000n * 309n) / 365n); // 2026-03-02 → 2027-01-05: 309 of 365 days
        // due 3 working days after 2026-03-02 (Mon) → 03-06 00:00; overdue 03-06 on; more than 15 days → suspended
        const t = await getTenant(db.pool, 'demo');
        expect(t.status).toBe('suspended');
        expect(await redis.hget(keys.tenant(t0.id.toString()), 'status')).toBe('suspended'); // live calls cut
        await clock.advance(month.getTime() - clock.now(), () => engine.idle());
        expect(await engine.authorize({ callId: 'while-suspended', tenantId: t0.id.toString(), calledNumber: '8690012345678', at: clock.now(), failurePolicy: 'terminate' }))
          .toMatchObject({ ok: false, reason: 'suspended' });
        const suspendRow = (await db.pool.query<{ at: Date }>(`select overdue_suspended_at as at from tenants where id = $1`, [t0.id.toString()])).rows[0]!;
        suspendedOn = suspendRow.at.toISOString();
        // the overdue job of 2026-03-21 00:15: overdue days 03-06 … 03-21 = 16 > OVERDUE_SUSPEND_DAYS (15)
        expect(suspendedOn).toBe('2026-03-20T16:15:00.000Z');
        // late fees: 3 per mille of 355.56 = 1.06 CNY per day, daily
        const fees = acc.receivables.filter((r) => r.kind === 'late_fee');
        expect(fees.every((f) => f.amountFen === 106n)).toBe(true);
        expect(fees.length).toBeGreaterThanOrEqual(16);
        // payment of everything owed reinstates at once
        const pay = await recordPayment(deps, OP, { tenant: 'demo', amountFen: acc.owedFen, reference: 'BANK-0002' });
        expect(pay.reinstated).toBe(true);
        expect(pay.redis.state).toBe('applied');
        expect((await getTenant(db.pool, 'demo')).status).toBe('active');
        expect(await redis.hget(keys.tenant(t0.id.toString()), 'status')).toBe('active');
        expect(await notices('suspended')).toBe(1);
        expect(await notices('resumed')).toBe(1);
      }
      // (in April after the payment: a suspended tenant's calls are refused by the engine)
      for (let k = 0; k < 10; k++) await callAt(new Date(month.getTime() + k * 3_600_000), 10_000n);
      const low = await runLowBalance(deps, OP, { tenant: 'demo' });
      if (low[0]!.notified.length && !lowOn) lowOn = monthLabel(now, TZ);
    }
    expect(suspendedOn).not.toBeNull();
    // after 10 x 1,000.00 of calls 1,000.00 is left: below 10% of 11,000.00 → one notice (e-mail) with the amount due
    expect(lowOn).toBe('2026-10');
    const lowRow = (await db.pool.query<{ payload: { amountDueFen: string; remainingMonths: number } }>(`select payload from notifications where kind = 'low_balance'`)).rows[0]!;
    expect(lowRow.payload.remainingMonths).toBe(3); // 2026-10-12 → 2027-01-05: part month counts whole
    expect(BigInt(lowRow.payload.amountDueFen)).toBe(95_167n * 3n);
    // ---- a top-up in November
    await advanceTo(new Date('2026-11-02T02:00:00Z'));
    const top = await creditTenant(db.pool, { tenantId: t0.id, kind: 'paid', amountFen: 200_000n, validFrom: now, expiresAt: order.serviceEnd, idempotencyKey: 'topup:BANK-0003', bookedAt: now });
    expect(await syncCredit(redis, top)).toBe('applied');
    // ---- renewal reminder: 2027-01-05 ends the period; 5 working days before (2027 unconfirmed: Mon-Fri) is 2026-12-29
    await advanceTo(new Date('2026-12-28T02:00:00Z'));
    expect(await notices('renewal_reminder')).toBe(0);
    await advanceTo(new Date('2026-12-29T02:00:00Z'));
    expect(await notices('renewal_reminder')).toBe(1);
    expect(cal.nthWorkingDayBefore('2027-01-05', 5)).toBe('2026-12-29');
    // ---- period end: 2027-01-05 10:00; the hourly job terminates, reclaims, and Redis clears the balance to the outbox
    await advanceTo(new Date('2027-01-05T03:30:00Z'));
    const ended = await getTenant(db.pool, 'demo');
    expect(ended.status).toBe('terminated');
    expect((await db.pool.query(`select 1 from numbers where tenant_id = $1 and state <> 'reclaimed'`, [t0.id.toString()])).rowCount).toBe(0);
    await drainOutbox();
    expect((await tenantBuckets(db.pool, t0.id)).map((b) => b.balanceFen)).toEqual([0n, 0n]); // cleared (art. 7.2), kept in the ledger
    // ---- statements: every month ties (assertTies) and chains: closing of one month = opening of the next
    let prev: Awaited<ReturnType<typeof showStatement>> | null = null;
    let calls = 0n;
    for (const month of ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11', '2026-12', '2027-01']) {
      const s = await showStatement(deps, OP, { tenant: 'demo', month });
      if (prev) {
        expect(s.balances.paid.openingFen).toBe(prev.balances.paid.closingFen);
        expect(s.receivables.openingOwedFen).toBe(prev.receivables.closingOwedFen);
      }
      calls += s.calls.totalFen;
      prev = s;
    }
    expect(calls).toBe(10n * 10n * 10_000n);
    const jan27 = prev!;
    expect(jan27.expired.reduce((x, l) => x + l.amountFen, 0n)).toBe(1_100_000n + 200_000n - 1_000_000n);
    expect(jan27.balances.paid.closingFen).toBe(0n);
    expect(jan27.receivables.closingOwedFen).toBe(0n);
    // ---- Redis (where the engine charged) and the ledger agree: no drift
    expect((await reconcile({ pool: db.pool, redis, repair: false, logger: deps.logger })).driftTenants).toBe(0);
    // ---- the ledger balances: every account equals its transfers, and all accounts sum to zero
    expect(await inconsistentAccounts(db.pool)).toEqual([]);
    expect((await db.pool.query<{ s: bigint }>(`select sum(credits_posted - debits_posted)::int8 as s from ledger_accounts`)).rows[0]!.s).toBe(0n);
    // ---- jobs status: every job ran; the scheduler caught up day by day; nothing failed
    const st = await jobsStatus(deps, OP);
    expect(st.jobs.map((j) => [j.job, j.failedPending])).toEqual([['cdr-partitions', 0], ['rent', 0], ['late-fees', 0], ['overdue', 0], ['renewal-reminder', 0], ['period-end', 0]]);
    expect(st.jobs.find((j) => j.job === 'late-fees')!.last!.period).toBe('2027-01-05');
    expect(st.calendarWarnings[0]).toMatch(/^2027: unconfirmed/);
    await scheduler.stop();
    expect((await other.tick()).leader).toBe(true); // the lease passes on once released
    await other.stop();
  }, 600_000);
});
