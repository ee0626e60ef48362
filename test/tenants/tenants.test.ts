import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { createTenant, getTenant, parseCallingHours, setTenantLimits, setTenantStatus } from '../../src/tenants/tenants.js';
import { listTenants } from '../../src/store/tenants.js';
import { createOrder, payOrder } from '../../src/tenants/orders.js';
import { listOrders } from '../../src/store/orders.js';
import { addNumber, changeNumberState } from '../../src/tenants/numbers.js';
import { creditTenant } from '../../src/tenants/credits.js';
import { accrueLateFees, chargeRent, overdueState, periodEndClearing } from '../../src/tenants/billing.js';
import { checkLowBalance } from '../../src/tenants/notices.js';
import { listReceivables, recordPayment } from '../../src/tenants/receivables.js';
import { owedFen } from '../../src/store/receivables.js';
import { dailyLateFeeFen } from '../../src/billing/late-fee.js';
import { WorkingCalendar } from '../../src/calendar/calendar.js';
import { readCalendarFiles } from '../../src/calendar/load.js';
import { accountBalance, bucketAccount, postTransfers, systemAccount, tenantReceivableAccount } from '../../src/ledger/ledger.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';

const TZ = 'Asia/Shanghai';
const CAL = WorkingCalendar.fromYears(readCalendarFiles(), TZ);
const YEARLY = { amountFen: 42_000n, period: 'year' as const };
const NO_RENT = { amountFen: 0n, period: 'year' as const };
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb({ poolSize: 30 });
});
afterAll(async () => db.drop());

async function tenant(code: string) {
  return createTenant(db.pool, { code, legalName: `${code} Co., Ltd.` });
}

describe('tenants', () => {
  it('create, read by code or id, list; duplicate and bad codes refused', async () => {
    const t = await tenant('acme');
    expect((await getTenant(db.pool, 'acme')).id).toBe(t.id);
    expect((await getTenant(db.pool, t.id.toString())).code).toBe('acme');
    expect((await listTenants(db.pool)).map((x) => x.code)).toContain('acme');
    await expect(tenant('acme')).rejects.toThrow(/already exists/);
    await expect(createTenant(db.pool, { code: 'Bad Code', legalName: 'x' })).rejects.toThrow(/tenant code/);
    await expect(createTenant(db.pool, { code: 'ok1', legalName: '  ' })).rejects.toThrow(/legal name/);
    await expect(getTenant(db.pool, 'nobody')).rejects.toThrow(/no tenant/);
  });

  it('status: active ⇄ suspended, terminated is final', async () => {
    const t = await tenant('stat');
    expect((await setTenantStatus(db.pool, t.id, 'suspended', 'compliance review')).status).toBe('suspended');
    expect((await setTenantStatus(db.pool, t.id, 'active', null)).status).toBe('active');
    await setTenantStatus(db.pool, t.id, 'terminated', 'contract ended');
    await expect(setTenantStatus(db.pool, t.id, 'active', null)).rejects.toThrow(/terminated/);
  });
});

describe('limits', () => {
  it('set only what is given; calling hours parsed; bad values refused', async () => {
    const t = await tenant('lim');
    const l = await setTenantLimits(db.pool, t.id, { maxConcurrent: 60, callingHours: parseCallingHours('08:00-21:00'), dailySpendCapFen: 50_000n });
    expect(l).toEqual({ maxConcurrent: 60, maxCps: 10, blockedPrefixes: [], allowInternational: false, callingHours: { from: '08:00', to: '21:00' }, dailySpendCapFen: 50_000n });
    const l2 = await setTenantLimits(db.pool, t.id, { callingHours: parseCallingHours('any'), blockedPrefixes: ['86900'] });
    expect(l2).toMatchObject({ maxConcurrent: 60, callingHours: null, blockedPrefixes: ['86900'], dailySpendCapFen: 50_000n });
    expect(() => parseCallingHours('8-21')).toThrow(/HH:MM-HH:MM/);
    expect(() => parseCallingHours('09:00-09:00')).toThrow(/differ/);
    await expect(setTenantLimits(db.pool, t.id, { blockedPrefixes: ['86x'] })).rejects.toThrow(/digits/);
    await expect(setTenantLimits(db.pool, t.id, { maxConcurrent: -1 })).rejects.toThrow(/0-100000/);
  });
});

describe('orders', () => {
  it('a paid package order creates a paid bucket valid N months from activation, credited via the ledger', async () => {
    const t = await tenant('ord1');
    const activatedAt = new Date('2026-03-01T00:00:00Z');
    const r = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'ORD1-A', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      rent: YEARLY, paid: true, numbers: ['+8657188881111'], activatedAt,
    }, CAL);
    expect(r.order.totalFen).toBe(1_142_000n);
    // the package and the first rent year are receivables, paid with the order
    expect(r.receivables.map((x) => [x.kind, x.amountFen, x.outstandingFen])).toEqual([['order', 1_100_000n, 0n], ['rent', 42_000n, 0n]]);
    expect(r.order.paidAt).not.toBeNull();
    expect(await owedFen(db.pool, t.id)).toBe(0n);
    expect(r.serviceEnd!.toISOString()).toBe('2027-03-01T00:00:00.000Z');
    expect(r.credit).toMatchObject({ kind: 'paid', amountFen: 1_100_000n, validFrom: activatedAt, expiresAt: r.serviceEnd });
    expect(await tenantBuckets(db.pool, t.id)).toEqual([
      { bucketId: r.credit!.bucketId, kind: 'paid', validFrom: activatedAt, expiresAt: r.serviceEnd, balanceFen: 1_100_000n },
    ]);
    expect(r.numbers.map((n) => [n.e164, n.state])).toEqual([['+8657188881111', 'pending_review']]);
    const again = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'ORD1-A', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      rent: YEARLY, paid: true, numbers: [], activatedAt,
    }, CAL);
    expect(again.duplicate).toBe(true);
    expect((await tenantBuckets(db.pool, t.id)).length).toBe(1);
  });

  it('a new order supersedes the active one and keeps the history', async () => {
    const t = await tenant('ord2');
    const base = { tenantId: t.id, packageAmountFen: 100_000n, packageCount: 1, validityMonths: 1, numberCount: 0, rent: NO_RENT, paid: true, numbers: [] };
    const first = await createOrder(db.pool, { ...base, orderNo: 'ORD2-1' }, CAL);
    const second = await createOrder(db.pool, { ...base, orderNo: 'ORD2-2', validityMonths: 6 }, CAL);
    expect(second.superseded).toBe(first.order.id);
    const orders = await listOrders(db.pool, t.id);
    expect(orders.map((o) => [o.orderNo, o.status, o.supersedesOrderId])).toEqual([
      ['ORD2-1', 'superseded', null],
      ['ORD2-2', 'active', first.order.id],
    ]);
    // both orders' credit stays (two paid buckets)
    expect((await tenantBuckets(db.pool, t.id)).map((b) => b.balanceFen)).toEqual([100_000n, 100_000n]);
  });

  it('concurrent orders for one tenant leave exactly one active', async () => {
    const t = await tenant('ord3');
    const base = { tenantId: t.id, packageAmountFen: 1000n, packageCount: 1, validityMonths: 1, numberCount: 0, rent: NO_RENT, paid: false, numbers: [] };
    await Promise.all(Array.from({ length: 8 }, (_, i) => createOrder(db.pool, { ...base, orderNo: `ORD3-${i}` }, CAL)));
    const orders = await listOrders(db.pool, t.id);
    expect(orders.length).toBe(8);
    expect(orders.filter((o) => o.status === 'active').length).toBe(1);
  });
});

describe('numbers', () => {
  it('state changes follow the review rules; a number held by another tenant is refused', async () => {
    const a = await tenant('num-a');
    const b = await tenant('num-b');
    await addNumber(db.pool, { tenantId: a.id, e164: '+8657100001111', rent: YEARLY, at: new Date() });
    await expect(changeNumberState(db.pool, '+8657100001111', 'suspend', null)).rejects.toThrow(/pending_review cannot be suspended/);
    expect((await changeNumberState(db.pool, '+8657100001111', 'approve', 'licence ok')).state).toBe('approved');
    expect((await changeNumberState(db.pool, '+8657100001111', 'suspend', 'carrier asks for documents')).state).toBe('suspended');
    await expect(addNumber(db.pool, { tenantId: b.id, e164: '+8657100001111', rent: NO_RENT, at: new Date() })).rejects.toThrow(/held by another tenant/);
    expect((await changeNumberState(db.pool, '+8657100001111', 'reclaim', null)).state).toBe('reclaimed');
    const given = await addNumber(db.pool, { tenantId: b.id, e164: '+8657100001111', rent: NO_RENT, at: new Date() });
    expect([given.tenantId, given.state]).toEqual([b.id, 'pending_review']);
    await expect(changeNumberState(db.pool, '+8600000', 'approve', null)).rejects.toThrow(/no number/);
  });
});

describe('credits (top-ups)', () => {
  it('20 concurrent top-ups with one key make one bucket and one transfer; another amount with that key is refused', async () => {
    const t = await tenant('topup');
    const req = { tenantId: t.id, kind: 'paid' as const, amountFen: 50_000n, validFrom: new Date(), expiresAt: null, idempotencyKey: 'topup:k1' };
    const rs = await Promise.all(Array.from({ length: 20 }, () => creditTenant(db.pool, req)));
    expect(rs.filter((r) => !r.duplicate).length).toBe(1);
    expect(new Set(rs.map((r) => r.bucketId)).size).toBe(1);
    expect((await tenantBuckets(db.pool, t.id)).map((b) => b.balanceFen)).toEqual([50_000n]);
    await expect(creditTenant(db.pool, { ...req, amountFen: 50_001n })).rejects.toThrow(/already used/);
    const gift = await creditTenant(db.pool, { ...req, kind: 'gift', amountFen: 1_000n, idempotencyKey: 'topup:k2' });
    expect(gift.kind).toBe('gift');
    expect((await tenantBuckets(db.pool, t.id)).map((b) => [b.kind, b.balanceFen])).toEqual([['paid', 50_000n], ['gift', 1_000n]]);
  });
});

describe('rent, receivables, payments, late fees, period end', () => {
  it('rent is billed once per number and period, in advance; a number added mid-year pays pro-rata', async () => {
    const t = await tenant('rent');
    const activatedAt = new Date('2026-01-10T02:00:00Z');
    await createOrder(db.pool, { tenantId: t.id, orderNo: 'RENT-1', packageAmountFen: 100_000n, packageCount: 1, validityMonths: 24, numberCount: 1,
      rent: YEARLY, paid: true, numbers: ['+8657100002222'], activatedAt }, CAL);
    // the order billed the first year; the job finds nothing new in year 1
    expect(await chargeRent(db.pool, t.id, new Date('2026-05-10T00:00:00Z'), CAL)).toEqual([]);
    expect((await listReceivables(db.pool, t.id)).filter((r) => r.kind === 'rent')).toEqual([expect.objectContaining({ amountFen: 42_000n, outstandingFen: 0n })]);
    // a second number given on 2026-07-01 10:00: 193 of 365 days
    await addNumber(db.pool, { tenantId: t.id, e164: '+8657100002223', rent: YEARLY, at: new Date('2026-07-01T02:00:00Z') });
    const mid = await chargeRent(db.pool, t.id, new Date('2026-07-02T00:00:00Z'), CAL);
    const added = mid.find((r) => r.description.includes('+8657100002223'))!;
    expect(added).toMatchObject({ kind: 'rent', amountFen: 22_208n });
    expect(added.description).toMatch(/193\/365 days/);
    // the job was down through the start of year 2: running it later bills year 2 of both numbers, once
    const y2 = await chargeRent(db.pool, t.id, new Date('2027-03-01T00:00:00Z'), CAL);
    expect(y2.filter((r) => r.periodStart!.toISOString() === '2027-01-10T02:00:00.000Z').map((r) => r.amountFen)).toEqual([42_000n, 42_000n]);
    expect(await chargeRent(db.pool, t.id, new Date('2027-03-02T00:00:00Z'), CAL)).toEqual([]); // billed once
    expect((await listReceivables(db.pool, t.id)).filter((r) => r.kind === 'rent').length).toBe(4);
    // the tenant receivable account is minus what is owed
    expect(await accountBalance(db.pool, await tenantReceivableAccount(db.pool, t.id))).toBe(-(await owedFen(db.pool, t.id)));
    expect(await owedFen(db.pool, t.id)).toBe(22_208n + 84_000n);
  });

  it('an unpaid order accrues 3 per mille per overdue day; payment settles oldest first, credits the packages, stops the fee', async () => {
    const t = await tenant('late');
    // signed Monday 2026-11-02 10:00 Shanghai; 3 working days Tue-Thu: due at 2026-11-06 00:00 Shanghai
    const o = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'LATE-1', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      rent: YEARLY, paid: false, numbers: ['+8657100004444'], signedAt: new Date('2026-11-02T02:00:00Z'),
    }, CAL);
    expect(o.receivables.map((r) => [r.kind, r.dueAt.toISOString()])).toEqual([['order', '2026-11-05T16:00:00.000Z'], ['rent', '2026-11-05T16:00:00.000Z']]);
    expect(await accrueLateFees(db.pool, t.id, new Date('2026-11-05T15:59:59Z'), CAL)).toEqual([]);
    // Nov 6 and Nov 7 begun: two days on each receivable
    const d2 = await accrueLateFees(db.pool, t.id, new Date('2026-11-07T03:00:00Z'), CAL);
    expect(d2.map((r) => [r.feeDay, r.amountFen])).toEqual([['2026-11-06', 3_300n], ['2026-11-07', 3_300n], ['2026-11-06', 126n], ['2026-11-07', 126n]]);
    expect(await accrueLateFees(db.pool, t.id, new Date('2026-11-07T04:00:00Z'), CAL)).toEqual([]);
    expect((await overdueState(db.pool, t.id, new Date('2026-11-07T04:00:00Z'), TZ))).toMatchObject({ overdueFen: 1_142_000n, days: 2 });
    // payment of the principal on 2026-11-08 12:00 Shanghai: oldest first (order, rent), the fees stay owed
    const p = await recordPayment(db.pool, { tenantId: t.id, amountFen: 1_142_000n, reference: 'BANK-LATE-1', receivedAt: new Date('2026-11-08T04:00:00Z') }, TZ);
    expect(p.allocations.map((a) => [a.kind, a.amountFen, a.settled])).toEqual([['order', 1_100_000n, true], ['rent', 42_000n, true]]);
    expect(p.credits.map((c) => [c.kind, c.amountFen])).toEqual([['paid', 1_100_000n]]);
    expect(p.outstandingFen).toBe(2n * 3_426n);
    // Nov 8 had begun unpaid: charged; nothing after
    const rest = await accrueLateFees(db.pool, t.id, new Date('2026-11-20T02:00:00Z'), CAL);
    expect(rest.map((r) => [r.feeDay, r.amountFen])).toEqual([['2026-11-08', 3_300n], ['2026-11-08', 126n]]);
    expect(await owedFen(db.pool, t.id)).toBe(3n * dailyLateFeeFen(1_142_000n));
    // the same reference again changes nothing; another amount under it is refused; more than owed is refused
    expect((await recordPayment(db.pool, { tenantId: t.id, amountFen: 1_142_000n, reference: 'BANK-LATE-1', receivedAt: new Date() }, TZ)).duplicate).toBe(true);
    await expect(recordPayment(db.pool, { tenantId: t.id, amountFen: 1n, reference: 'BANK-LATE-1', receivedAt: new Date() }, TZ)).rejects.toThrow(/already recorded/);
    await expect(recordPayment(db.pool, { tenantId: t.id, amountFen: 1_000_000n, reference: 'BANK-LATE-2', receivedAt: new Date() }, TZ)).rejects.toThrow(/more than/);
    expect((await tenantBuckets(db.pool, t.id)).map((b) => b.balanceFen)).toEqual([1_100_000n]);
    expect((await listOrders(db.pool, t.id))[0]!.paidAt!.toISOString()).toBe('2026-11-08T04:00:00.000Z');
    // order pay on a paid order: nothing to pay
    expect((await payOrder(db.pool, 'LATE-1', new Date(), TZ)).duplicate).toBe(true);
    await expect(payOrder(db.pool, 'NO-SUCH', new Date(), TZ)).rejects.toThrow(/no order/);
    expect(await inconsistentAccounts(db.pool)).toEqual([]);
  });

  it('period end reclaims numbers and terminates (idempotent), and leaves the balance to the one expiry path', async () => {
    const t = await tenant('ending');
    const r = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'END-1', packageAmountFen: 10_000n, packageCount: 1, validityMonths: 1, numberCount: 1,
      rent: { amountFen: 100n, period: 'month' }, paid: true, numbers: ['+8657100003333'], activatedAt: new Date('2026-01-01T00:00:00Z'),
    }, CAL);
    await postTransfers(db.pool, [{ idempotencyKey: 'call:end-1:x', debitAccountId: await bucketAccount(db.pool, r.credit!.bucketId),
      creditAccountId: await systemAccount(db.pool, 'revenue:calls'), amountFen: 2_500n, kind: 'call_charge', tenantId: t.id, callId: 'end-1' }]);
    expect(await periodEndClearing(db.pool, t.id, new Date('2026-01-15T00:00:00Z'))).toEqual({ terminated: false, numbersReclaimed: 0, remaining: [] });
    const res = await periodEndClearing(db.pool, t.id, r.serviceEnd!);
    expect(res).toEqual({
      terminated: true, numbersReclaimed: 1,
      remaining: [{ bucketId: r.credit!.bucketId, balanceFen: 7_500n, expiresAt: r.serviceEnd, expiresByPeriodEnd: true }],
    });
    expect((await getTenant(db.pool, 'ending')).status).toBe('terminated');
    expect((await periodEndClearing(db.pool, t.id, r.serviceEnd!)).numbersReclaimed).toBe(0);
    // no ledger entry is posted here: the charging engine's expiry (via the outbox) posts the single expiry_clear
    const n = await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from ledger_transfers where kind = 'expiry_clear' and tenant_id = $1`, [t.id.toString()]);
    expect(n.rows[0]!.n).toBe(0n);
    expect(await inconsistentAccounts(db.pool)).toEqual([]);
  });
});

describe('low-balance notices', () => {
  it('one notice per channel when below 10%, deduplicated until the next top-up', async () => {
    const t = await createTenant(db.pool, { code: 'low', legalName: 'Low Co.', notifyEmail: 'ops@low.example', notifyWebhook: 'https://low.example/hook' });
    const activatedAt = new Date('2026-01-01T00:00:00Z');
    const r = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'LOW-1', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      rent: { amountFen: 42_000n, period: 'month' }, paid: true, numbers: [], activatedAt,
    }, CAL);
    const at = new Date('2026-04-15T00:00:00Z');
    const opts = { percent: 10, at, calendar: CAL };
    const fresh = await checkLowBalance(db.pool, t.id, opts);
    expect(fresh).toMatchObject({ reasons: [], notified: [], balanceFen: 1_100_000n, totalPrepaidFen: 1_100_000n });
    // spend down to 1,000.00 CNY: below 10% (1,100.00) and below one month of fees (1,336.67)
    const acct = await bucketAccount(db.pool, r.credit!.bucketId);
    const rev = await systemAccount(db.pool, 'revenue:calls');
    await postTransfers(db.pool, [{ idempotencyKey: 'call:low-1:b', debitAccountId: acct, creditAccountId: rev, amountFen: 1_000_000n, kind: 'call_charge', tenantId: t.id }]);
    const low = await checkLowBalance(db.pool, t.id, opts);
    expect(low.reasons).toEqual(['below_percent_of_prepaid', 'below_one_month_of_fees']);
    expect(low.notified).toEqual(['email', 'webhook']);
    expect(low.remainingMonths).toBe(9); // 2026-04-15 → 2027-01-01: 8.5 months → 9
    expect(low.amountDueFen).toBe(low.monthlyFeeFen * 9n);
    expect((await checkLowBalance(db.pool, t.id, opts)).notified).toEqual([]);
    await creditTenant(db.pool, { tenantId: t.id, kind: 'paid', amountFen: 1_000n, validFrom: activatedAt, expiresAt: r.serviceEnd, idempotencyKey: 'topup:low-2' });
    expect((await checkLowBalance(db.pool, t.id, opts)).notified).toEqual(['email', 'webhook']);
    const rows = await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from notifications where tenant_id = $1 and kind = 'low_balance'`, [t.id.toString()]);
    expect(rows.rows[0]!.n).toBe(4n);
  });
});
