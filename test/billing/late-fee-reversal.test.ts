/**
 * A payment recorded with a date before late fees already posted for later days (money received on the 12th,
 * booked by the operator on the 16th) takes back the late fee of the days it covered: a correcting ledger transfer
 * per late-fee day (revenue:late_fee → the tenant's receivable, key late_reversal:<late fee>:<payment>), never an edit
 * of the posted one, shown on the statement. The working-day calendar as published (2026 National Day: 1-7 October
 * off, Saturday 10 October a working day) and the 3 per mille per day rule, exact to the fen. Real test database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planPayment } from '../../src/billing/back-dated.js';
import { WorkingCalendar } from '../../src/calendar/calendar.js';
import { readCalendarFiles } from '../../src/calendar/load.js';
import { accountBalance, systemAccount, tenantReceivableAccount } from '../../src/ledger/ledger.js';
import { recordPayment } from '../../src/services/billing.js';
import { showStatement, statementCsv } from '../../src/services/statements.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';
import { owedFen } from '../../src/store/receivables.js';
import { accrueLateFees } from '../../src/tenants/billing.js';
import { createOrder } from '../../src/tenants/orders.js';
import { listReceivables } from '../../src/tenants/receivables.js';
import { createTenant } from '../../src/tenants/tenants.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { SYSTEM, testServices } from '../helpers/services.js';

const TZ = 'Asia/Shanghai';
const CAL = WorkingCalendar.fromYears(readCalendarFiles(), TZ);
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db.drop());

// Signed Wed 30 Sep 10:00 Shanghai. Working days after it: Thu 8, Fri 9, Sat 10 Oct (make-up day) → due at the end of
// 10 Oct; the first overdue day is 11 Oct. The late-fee job has run through Fri 16 Oct 11:00: six days, 11-16 Oct.
const SIGNED = new Date('2026-09-30T02:00:00Z');
const JOB_RAN = new Date('2026-10-16T03:00:00Z');
const RECEIVED = new Date('2026-10-12T07:00:00Z'); // Mon 12 Oct 15:00 Shanghai: 11 and 12 Oct had begun unpaid
const RECORDED = new Date('2026-10-16T04:00:00Z'); // the operator books it on Fri 16 Oct 12:00
const ORDER_FEE = 3_300n; // floor(1,100,000 × 3 / 1000)
const RENT_FEE = 126n; // floor(42,000 × 3 / 1000)

let seq = 0;
async function overdueTenant(code: string): Promise<bigint> {
  const t = await createTenant(db.pool, { code, legalName: `${code} Co., Ltd.` });
  const o = await createOrder(db.pool, {
    tenantId: t.id, orderNo: `${code.toUpperCase()}-1`, packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
    rent: { amountFen: 42_000n, period: 'year' }, paid: false, numbers: [`+865710000${5000 + ++seq}`], signedAt: SIGNED,
  }, CAL);
  expect(o.receivables.map((r) => [r.kind, r.dueAt.toISOString()])).toEqual([['order', '2026-10-10T16:00:00.000Z'], ['rent', '2026-10-10T16:00:00.000Z']]);
  const fees = await accrueLateFees(db.pool, t.id, JOB_RAN, CAL);
  expect(fees.map((r) => r.feeDay)).toEqual([...['11', '12', '13', '14', '15', '16'].map((d) => `2026-10-${d}`), ...['11', '12', '13', '14', '15', '16'].map((d) => `2026-10-${d}`)]);
  expect(await owedFen(db.pool, t.id)).toBe(1_142_000n + 6n * (ORDER_FEE + RENT_FEE));
  return t.id;
}

const deps = () => testServices(db.pool, { now: () => RECORDED });

async function lateFeeRevenue(): Promise<bigint> {
  return accountBalance(db.pool, await systemAccount(db.pool, 'revenue:late_fee'));
}

async function tiesToLedger(tenantId: bigint): Promise<void> {
  expect(await accountBalance(db.pool, await tenantReceivableAccount(db.pool, tenantId))).toBe(-(await owedFen(db.pool, tenantId)));
  expect(await inconsistentAccounts(db.pool)).toEqual([]);
}

describe('a back-dated payment and the late fees already posted after its date', () => {
  it('paid in full on 12 Oct: the late fees of 13-16 Oct are reversed by correcting transfers; 11 and 12 Oct stay owed', async () => {
    const id = await overdueTenant('backfull');
    const revenueBefore = await lateFeeRevenue();
    const p = await recordPayment(deps(), SYSTEM, { tenant: 'backfull', amountFen: 1_142_000n, reference: 'BANK-BACK-FULL', receivedAt: RECEIVED });
    expect(p.allocations.map((a) => [a.kind, a.amountFen])).toEqual([['order', 1_100_000n], ['rent', 42_000n]]);
    expect(p.lateFeesReversed.map((r) => [r.day, r.amountFen])).toEqual([
      ['2026-10-13', ORDER_FEE], ['2026-10-14', ORDER_FEE], ['2026-10-15', ORDER_FEE], ['2026-10-16', ORDER_FEE],
      ['2026-10-13', RENT_FEE], ['2026-10-14', RENT_FEE], ['2026-10-15', RENT_FEE], ['2026-10-16', RENT_FEE],
    ]);
    expect(p.outstandingFen).toBe(2n * (ORDER_FEE + RENT_FEE)); // 6,852 fen: 11 and 12 Oct
    expect(await owedFen(db.pool, id)).toBe(6_852n);
    expect(revenueBefore - (await lateFeeRevenue())).toBe(4n * (ORDER_FEE + RENT_FEE)); // 13,704 fen taken back
    // the posted late fees are untouched: every one still there with its amount; the reversals are new transfers
    const rows = await listReceivables(db.pool, id);
    const fees = rows.filter((r) => r.kind === 'late_fee');
    expect([fees.filter((r) => r.amountFen === ORDER_FEE).length, fees.filter((r) => r.amountFen === RENT_FEE).length]).toEqual([6, 6]);
    expect(fees.filter((r) => r.outstandingFen > 0n).map((r) => r.feeDay)).toEqual(['2026-10-11', '2026-10-11', '2026-10-12', '2026-10-12']);
    expect(fees.filter((r) => r.reversedFen > 0n).map((r) => [r.feeDay, r.reversedFen === r.amountFen])).toEqual(
      ['13', '13', '14', '14', '15', '15', '16', '16'].map((d) => [`2026-10-${d}`, true]));
    const keys = (await db.pool.query<{ idempotency_key: string; kind: string; booked_at: Date }>(
      `select idempotency_key, kind, booked_at from ledger_transfers where idempotency_key like 'late_reversal:%' and tenant_id = $1 order by id`, [id.toString()])).rows;
    expect(keys).toHaveLength(8);
    expect(keys.every((k) => /^late_reversal:[0-9]+:[0-9]+$/.test(k.idempotency_key) && k.kind === 'adjustment' && k.booked_at.getTime() === RECORDED.getTime())).toBe(true);
    await tiesToLedger(id);
    // the job running again posts nothing more: the principal is paid
    expect(await accrueLateFees(db.pool, id, new Date('2026-10-30T03:00:00Z'), CAL)).toEqual([]);
    // the same payment again (a retry) reverses nothing twice
    const again = await recordPayment(deps(), SYSTEM, { tenant: 'backfull', amountFen: 1_142_000n, reference: 'BANK-BACK-FULL', receivedAt: RECEIVED });
    expect([again.duplicate, again.lateFeesReversed]).toEqual([true, []]);
    expect(await owedFen(db.pool, id)).toBe(6_852n);

    // the October statement shows each late fee and each reversal, and still ties
    const s = await showStatement(deps(), SYSTEM, { tenant: 'backfull', month: '2026-10' });
    const reversed = s.lateFees.filter((l) => l.amountFen < 0n);
    expect(reversed.map((l) => l.amountFen)).toEqual([-ORDER_FEE, -ORDER_FEE, -ORDER_FEE, -ORDER_FEE, -RENT_FEE, -RENT_FEE, -RENT_FEE, -RENT_FEE]);
    expect(reversed[0]!.description).toMatch(/late fee 2026-10-13 reversed: payment BANK-BACK-FULL received 2026-10-12/);
    expect(s.lateFees.reduce((t, l) => t + l.amountFen, 0n)).toBe(6_852n);
    // the order and its rent were issued in September (signed 30 Sep); October: the late fees net of what was taken back
    expect(s.receivables).toEqual({ openingOwedFen: 1_142_000n, issuedFen: 6_852n, paidFen: 1_142_000n, closingOwedFen: 6_852n });
    expect(statementCsv(s)).toMatch(/late_fee,2026-10-16T04:00:00.000Z,late fee 2026-10-13 reversed: [^\n]*,-33.00/);
  });

  it('paid in part (600,000 of 1,100,000): from 13 Oct the fee is 3 per mille of 500,000; each posted day is corrected by the difference', async () => {
    const id = await overdueTenant('backpart');
    const p = await recordPayment(deps(), SYSTEM, { tenant: 'backpart', amountFen: 600_000n, reference: 'BANK-BACK-PART', receivedAt: RECEIVED });
    expect(p.allocations.map((a) => [a.kind, a.amountFen])).toEqual([['order', 600_000n]]);
    // 3,300 posted per day, 1,500 owed (floor(500,000 × 3 / 1000)): 1,800 back per day; the rent's fees are untouched
    expect(p.lateFeesReversed.map((r) => [r.day, r.amountFen])).toEqual([['2026-10-13', 1_800n], ['2026-10-14', 1_800n], ['2026-10-15', 1_800n], ['2026-10-16', 1_800n]]);
    const fees = 2n * ORDER_FEE + 4n * 1_500n + 6n * RENT_FEE;
    expect(p.outstandingFen).toBe(500_000n + 42_000n + fees);
    await tiesToLedger(id);
    // the next days are charged on what is really outstanding
    const next = await accrueLateFees(db.pool, id, new Date('2026-10-17T03:00:00Z'), CAL);
    expect(next.map((r) => [r.feeDay, r.amountFen])).toEqual([['2026-10-17', 1_500n], ['2026-10-17', RENT_FEE]]);
  });

  it('a back-dated payment that also pays the late fees really owed settles everything: nothing goes to the fees it took back', async () => {
    const id = await overdueTenant('backall');
    const p = await recordPayment(deps(), SYSTEM, { tenant: 'backall', amountFen: 1_142_000n + 6_852n, reference: 'BANK-BACK-ALL', receivedAt: RECEIVED });
    expect(p.outstandingFen).toBe(0n);
    expect(p.lateFeesReversed.reduce((t, r) => t + r.amountFen, 0n)).toBe(13_704n);
    const paidFees = p.allocations.filter((a) => a.kind === 'late_fee');
    expect(paidFees.map((a) => a.amountFen).sort()).toEqual([RENT_FEE, RENT_FEE, ORDER_FEE, ORDER_FEE].sort());
    expect((await listReceivables(db.pool, id)).every((r) => r.outstandingFen === 0n)).toBe(true);
    await tiesToLedger(id);
    // one fen more than really owed is more than owed: refused, nothing recorded
    await expect(recordPayment(deps(), SYSTEM, { tenant: 'backall', amountFen: 1n, reference: 'BANK-BACK-ALL-2', receivedAt: RECEIVED })).rejects.toThrow(/more than/);
  });

  it('a payment dated after the posted days changes no late fee', async () => {
    const id = await overdueTenant('ontime');
    const p = await recordPayment(deps(), SYSTEM, { tenant: 'ontime', amountFen: 1_142_000n, reference: 'BANK-ONTIME', receivedAt: RECORDED });
    expect(p.lateFeesReversed).toEqual([]);
    expect(p.outstandingFen).toBe(6n * (ORDER_FEE + RENT_FEE));
    await tiesToLedger(id);
  });
});

describe('allocation and reversals depend on each other (pure: planPayment)', () => {
  const at = (iso: string) => new Date(iso);
  const rec = (id: bigint, o: { amountFen: bigint; dueAt: string; issuedAt: string; parentId?: bigint; feeDay?: string }) => ({
    id, kind: o.parentId ? 'late_fee' : 'rent', amountFen: o.amountFen, reversedFen: 0n, outstandingFen: o.amountFen, dueAt: at(o.dueAt), issuedAt: at(o.issuedAt),
    accruesLateFee: !o.parentId, parentId: o.parentId ?? null, feeDay: o.feeDay ?? null,
  });
  // A (100,000 fen) overdue from 2 Mar, its late fees of 2-7 Mar posted (300 each) and due before B; B (50,000 fen)
  // due on 5 Mar, its late fees of 5-7 Mar posted (150 each). A payment of 121,800 received on 3 Mar at noon.
  const A = rec(1n, { amountFen: 100_000n, dueAt: '2026-03-01T16:00:00Z', issuedAt: '2026-02-25T02:00:00Z' });
  const B = rec(2n, { amountFen: 50_000n, dueAt: '2026-03-04T16:00:00Z', issuedAt: '2026-03-01T02:00:00Z' });
  const aFees = ['02', '03', '04', '05', '06', '07'].map((d, i) => rec(10n + BigInt(i), { amountFen: 300n, dueAt: '2026-03-04T00:00:00Z', issuedAt: `2026-03-${d}T00:00:00+08:00`, parentId: 1n, feeDay: `2026-03-${d}` }));
  const bFees = ['05', '06', '07'].map((d, i) => rec(20n + BigInt(i), { amountFen: 150n, dueAt: '2026-03-10T00:00:00Z', issuedAt: `2026-03-${d}T00:00:00+08:00`, parentId: 2n, feeDay: `2026-03-${d}` }));
  const all = [A, B, ...aFees, ...bFees];

  it('the first allocation gives B 20,000; once A\'s fees of 4-7 Mar are taken back B gets 21,200, so B\'s fees fall to floor(28,800 × 3/1000) = 86 a day', () => {
    const p = planPayment(121_800n, at('2026-03-03T04:00:00Z'), all, all, [], TZ);
    expect(p.leftoverFen).toBe(0n);
    expect(p.allocations.find((x) => x.id === 2n)!.amountFen).toBe(21_200n);
    expect(p.allocations.filter((x) => x.id >= 10n && x.id < 20n).map((x) => [x.id, x.amountFen])).toEqual([[10n, 300n], [11n, 300n]]);
    expect(p.reversals.map((r) => [r.receivableId, r.day, r.amountFen])).toEqual([
      [12n, '2026-03-04', 300n], [13n, '2026-03-05', 300n], [14n, '2026-03-06', 300n], [15n, '2026-03-07', 300n],
      [20n, '2026-03-05', 64n], [21n, '2026-03-06', 64n], [22n, '2026-03-07', 64n],
    ]);
  });
});
