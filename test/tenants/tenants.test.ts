import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { createTenant, getTenant, listTenants, parseCallingHours, setTenantLimits, setTenantStatus } from '../../src/tenants/tenants.js';
import { createOrder, listOrders, payOrder } from '../../src/tenants/orders.js';
import { addNumber, changeNumberState } from '../../src/tenants/numbers.js';
import { creditTenant } from '../../src/tenants/credits.js';
import { accrueLateFees, chargeRental, periodEndClearing } from '../../src/tenants/billing.js';
import { checkLowBalance } from '../../src/tenants/notices.js';
import { lateFeeFen } from '../../src/tenants/rules.js';
import { bucketAccount, inconsistentAccounts, postTransfers, systemAccount, tenantBuckets } from '../../src/ledger/ledger.js';

const TZ = 'Asia/Shanghai';
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
      monthlyRentFen: 42_000n, paid: true, numbers: ['+8657188881111'], activatedAt,
    }, TZ);
    expect(r.order.totalFen).toBe(1_142_000n);
    expect(r.serviceEnd!.toISOString()).toBe('2027-03-01T00:00:00.000Z');
    expect(r.credit).toMatchObject({ kind: 'paid', amountFen: 1_100_000n, validFrom: activatedAt, expiresAt: r.serviceEnd });
    expect(await tenantBuckets(db.pool, t.id)).toEqual([
      { bucketId: r.credit!.bucketId, kind: 'paid', validFrom: activatedAt, expiresAt: r.serviceEnd, balanceFen: 1_100_000n },
    ]);
    expect(r.numbers.map((n) => [n.e164, n.state])).toEqual([['+8657188881111', 'pending_review']]);
    const again = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'ORD1-A', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      monthlyRentFen: 42_000n, paid: true, numbers: [], activatedAt,
    }, TZ);
    expect(again.duplicate).toBe(true);
    expect((await tenantBuckets(db.pool, t.id)).length).toBe(1);
  });

  it('a new order supersedes the active one and keeps the history', async () => {
    const t = await tenant('ord2');
    const base = { tenantId: t.id, packageAmountFen: 100_000n, packageCount: 1, validityMonths: 1, numberCount: 0, monthlyRentFen: 0n, paid: true, numbers: [] };
    const first = await createOrder(db.pool, { ...base, orderNo: 'ORD2-1' }, TZ);
    const second = await createOrder(db.pool, { ...base, orderNo: 'ORD2-2', validityMonths: 6 }, TZ);
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
    const base = { tenantId: t.id, packageAmountFen: 1000n, packageCount: 1, validityMonths: 1, numberCount: 0, monthlyRentFen: 0n, paid: false, numbers: [] };
    await Promise.all(Array.from({ length: 8 }, (_, i) => createOrder(db.pool, { ...base, orderNo: `ORD3-${i}` }, TZ)));
    const orders = await listOrders(db.pool, t.id);
    expect(orders.length).toBe(8);
    expect(orders.filter((o) => o.status === 'active').length).toBe(1);
  });
});

describe('numbers', () => {
  it('state changes follow the review rules; a number held by another tenant is refused', async () => {
    const a = await tenant('num-a');
    const b = await tenant('num-b');
    await addNumber(db.pool, { tenantId: a.id, e164: '+8657100001111', monthlyRentFen: 42_000n });
    await expect(changeNumberState(db.pool, '+8657100001111', 'suspend', null)).rejects.toThrow(/pending_review cannot be suspended/);
    expect((await changeNumberState(db.pool, '+8657100001111', 'approve', 'licence ok')).state).toBe('approved');
    expect((await changeNumberState(db.pool, '+8657100001111', 'suspend', 'carrier asks for documents')).state).toBe('suspended');
    await expect(addNumber(db.pool, { tenantId: b.id, e164: '+8657100001111', monthlyRentFen: 0n })).rejects.toThrow(/held by another tenant/);
    expect((await changeNumberState(db.pool, '+8657100001111', 'reclaim', null)).state).toBe('reclaimed');
    const given = await addNumber(db.pool, { tenantId: b.id, e164: '+8657100001111', monthlyRentFen: 0n });
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

describe('rental, late fees, period end', () => {
  it('rental is charged once per number and month', async () => {
    const t = await tenant('rent');
    await addNumber(db.pool, { tenantId: t.id, e164: '+8657100002222', monthlyRentFen: 42_000n });
    await addNumber(db.pool, { tenantId: t.id, e164: '+8657100002223', monthlyRentFen: 42_000n }); // pending review: no rent
    await changeNumberState(db.pool, '+8657100002222', 'approve', null);
    const at = new Date('2026-05-10T00:00:00Z');
    const first = await chargeRental(db.pool, t.id, at, TZ);
    expect(first.map((c) => [c.amountFen, c.duplicate])).toEqual([[42_000n, false]]);
    expect(first[0]!.key).toMatch(/^rental:\d+:2026-05$/);
    const again = await chargeRental(db.pool, t.id, new Date('2026-05-20T00:00:00Z'), TZ);
    expect(again.map((c) => [c.transferId, c.duplicate])).toEqual([[first[0]!.transferId, true]]);
    const next = await chargeRental(db.pool, t.id, new Date('2026-06-01T00:00:00Z'), TZ);
    expect(next[0]!.duplicate).toBe(false);
  });

  it('late fee accrues 3 per mille per day on an unpaid order past its 3-working-day term, posted incrementally', async () => {
    const t = await tenant('late');
    // signed Monday 2026-11-02 10:00 Shanghai; due Thursday 2026-11-05 10:00
    await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'LATE-1', packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
      monthlyRentFen: 42_000n, paid: false, numbers: [], signedAt: new Date('2026-11-02T02:00:00Z'),
    }, TZ);
    expect(await accrueLateFees(db.pool, t.id, new Date('2026-11-05T01:00:00Z'), TZ)).toEqual([]);
    const d2 = await accrueLateFees(db.pool, t.id, new Date('2026-11-07T03:00:00Z'), TZ); // 2 whole days late
    expect(d2.map((c) => c.amountFen)).toEqual([lateFeeFen(1_142_000n, 2)]);
    expect(await accrueLateFees(db.pool, t.id, new Date('2026-11-07T04:00:00Z'), TZ)).toEqual([]);
    const d5 = await accrueLateFees(db.pool, t.id, new Date('2026-11-10T02:00:00Z'), TZ);
    expect(d5.map((c) => c.amountFen)).toEqual([lateFeeFen(1_142_000n, 5) - lateFeeFen(1_142_000n, 2)]);
    const total = await db.pool.query<{ s: bigint }>(`select sum(amount_fen)::int8 as s from ledger_transfers where kind = 'late_fee' and tenant_id = $1`, [t.id.toString()]);
    expect(total.rows[0]!.s).toBe(lateFeeFen(1_142_000n, 5));
    // payment credits the packages once and stops the accrual
    const paid = await payOrder(db.pool, 'LATE-1', new Date('2026-11-10T03:00:00Z'), TZ);
    expect(paid).toMatchObject({ duplicate: false, credit: { kind: 'paid', amountFen: 1_100_000n } });
    expect((await payOrder(db.pool, 'LATE-1', new Date(), TZ)).duplicate).toBe(true);
    expect((await tenantBuckets(db.pool, t.id)).map((b) => b.balanceFen)).toEqual([1_100_000n]);
    expect(await accrueLateFees(db.pool, t.id, new Date('2026-11-20T02:00:00Z'), TZ)).toEqual([]);
    await expect(payOrder(db.pool, 'NO-SUCH', new Date(), TZ)).rejects.toThrow(/no order/);
  });

  it('period end reclaims numbers and terminates (idempotent), and leaves the balance to the one expiry path', async () => {
    const t = await tenant('ending');
    const r = await createOrder(db.pool, {
      tenantId: t.id, orderNo: 'END-1', packageAmountFen: 10_000n, packageCount: 1, validityMonths: 1, numberCount: 1,
      monthlyRentFen: 100n, paid: true, numbers: ['+8657100003333'], activatedAt: new Date('2026-01-01T00:00:00Z'),
    }, TZ);
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
      monthlyRentFen: 42_000n, paid: true, numbers: [], activatedAt,
    }, TZ);
    const at = new Date('2026-04-15T00:00:00Z');
    const opts = { percent: 10, at, timeZone: TZ };
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
