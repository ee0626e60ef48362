import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { contractTotalFen, earlyTerminationFeeFen, monthlyFeeFen, prepaidFen, type OrderMoney } from '../../src/billing/contract.js';
import { rentForPeriod, rentOverService, rentPeriods } from '../../src/billing/rent.js';
import { dailyLateFeeFen, lateFeeDays, overdueDays } from '../../src/billing/late-fee.js';
import { allocate, oldestFirst } from '../../src/billing/allocation.js';
import { addMonths } from '../../src/calendar/zone.js';

const TZ = 'Asia/Shanghai';
const demo: OrderMoney = { packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1, rent: { amountFen: 42_000n, period: 'year' } };
const activated = new Date('2026-01-10T02:00:00Z'); // 10:00 Shanghai

describe('contract money (order 1, art. 2.2, art. 4.6)', () => {
  it('the demo order: 11,000 prepaid + 420 per number per year x 1 year = 11,420.00 CNY', () => {
    expect(prepaidFen(demo)).toBe(1_100_000n);
    expect(contractTotalFen(demo, activated, TZ)).toBe(1_142_000n);
  });
  it('monthly rent puts all 12 months in the contract total (the old monthly reading would be 16,040.00)', () => {
    expect(contractTotalFen({ ...demo, rent: { amountFen: 42_000n, period: 'month' } }, activated, TZ)).toBe(1_100_000n + 12n * 42_000n);
  });
  it('a rent year cut short by an 18-month service pays the last half-year pro-rata by days, rounded down', () => {
    const t = { ...demo, validityMonths: 18 };
    const end = addMonths(activated, 18, TZ);
    const [first, second] = rentPeriods(activated, end, 'year', TZ);
    expect(first!.end.toISOString()).toBe(addMonths(activated, 12, TZ).toISOString());
    const part = rentForPeriod(demo.rent, second!, null, TZ);
    expect(part).toMatchObject({ proRata: true, daysCharged: 181, daysInPeriod: 365 }); // 2027-01-10 → 2027-07-10 of 2027-01-10 → 2028-01-10
    expect(part.amountFen).toBe((42_000n * 181n) / 365n); // 20,827.39.. → 20,827 fen
    expect(contractTotalFen(t, activated, TZ)).toBe(1_100_000n + 42_000n + 20_827n);
  });
  it('monthly fee of the low-balance rule: 11,000/12 + 420/12 = 951.666.. → 951.67 CNY (rounded up once)', () => {
    expect(monthlyFeeFen(demo)).toBe(95_167n);
    expect(monthlyFeeFen({ ...demo, rent: { amountFen: 42_000n, period: 'month' } })).toBe(91_667n + 42_000n);
    expect(monthlyFeeFen({ ...demo, packageAmountFen: 1_200_000n, rent: { amountFen: 0n, period: 'year' } })).toBe(100_000n); // exact: no rounding
  });
  it('early termination: 30% of the contract value, rounded down: 11,420.00 → 3,426.00', () => {
    expect(earlyTerminationFeeFen(1_142_000n)).toBe(342_600n);
    expect(earlyTerminationFeeFen(333n)).toBe(99n); // 99.9 → 99
    expect(() => earlyTerminationFeeFen(-1n)).toThrow();
  });
});

describe('rent periods and pro-rata', () => {
  it('monthly periods are anchored at the service start, the day clamped to short months', () => {
    const start = new Date('2026-01-31T02:00:00Z');
    const ps = rentPeriods(start, addMonths(start, 3, TZ), 'month', TZ);
    expect(ps.map((p) => p.start.toISOString())).toEqual(['2026-01-31T02:00:00.000Z', '2026-02-28T02:00:00.000Z', '2026-03-31T02:00:00.000Z']);
    expect(ps[2]!.end.toISOString()).toBe('2026-04-30T02:00:00.000Z');
  });
  it('a number added mid-period pays days held / days in the period, the add day counted, rounded down', () => {
    const [year] = rentPeriods(activated, addMonths(activated, 12, TZ), 'year', TZ);
    // added 2026-07-01 10:00 Shanghai: 2026-07-01 → 2027-01-10 = 193 days of 365
    const c = rentForPeriod(demo.rent, year!, new Date('2026-07-01T02:00:00Z'), TZ);
    expect(c).toEqual({ amountFen: (42_000n * 193n) / 365n, daysCharged: 193, daysInPeriod: 365, proRata: true });
    expect(c.amountFen).toBe(22_208n); // 222.08 CNY
    // held since before the period: the full amount
    expect(rentForPeriod(demo.rent, year!, new Date('2025-01-01T00:00:00Z'), TZ)).toMatchObject({ amountFen: 42_000n, proRata: false });
    // added at 23:30 Shanghai on the last day: that day counts
    expect(rentForPeriod(demo.rent, year!, new Date('2027-01-09T15:30:00Z'), TZ)).toMatchObject({ daysCharged: 1, amountFen: 115n });
  });
  it('pro-rata never exceeds the full rent and the periods of a service cover it without gaps', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.constantFrom('month' as const, 'year' as const), fc.integer({ min: 0, max: 400 }), (months, period, addDay) => {
      const end = addMonths(activated, months, TZ);
      const ps = rentPeriods(activated, end, period, TZ);
      expect(ps[0]!.start.getTime()).toBe(activated.getTime());
      expect(ps.at(-1)!.end.getTime()).toBe(end.getTime());
      for (let i = 1; i < ps.length; i++) expect(ps[i]!.start.getTime()).toBe(ps[i - 1]!.end.getTime());
      const held = new Date(activated.getTime() + addDay * 86_400_000);
      for (const p of ps) expect(rentForPeriod(demo.rent, p, held, TZ).amountFen <= demo.rent.amountFen).toBe(true);
      expect(rentOverService(demo.rent, activated, end, TZ) <= demo.rent.amountFen * BigInt(ps.length)).toBe(true);
    }), { numRuns: 60 });
  });
});

describe('late fee (art. 3.2): 3 per mille per day, per day rounded down, simple', () => {
  it('one day on 11,420.00 is 34.26; tiny amounts round down to 0', () => {
    expect(dailyLateFeeFen(1_142_000n)).toBe(3_426n);
    expect(dailyLateFeeFen(333n)).toBe(0n); // 0.999 fen
    expect(dailyLateFeeFen(334n)).toBe(1n); // 1.002 fen
    expect(() => dailyLateFeeFen(-1n)).toThrow();
  });
  it('overdue days are calendar days begun since the due instant', () => {
    const due = new Date('2026-03-05T16:00:00Z'); // 2026-03-06 00:00 Shanghai
    expect(overdueDays(due, new Date('2026-03-05T15:59:59Z'), TZ)).toBe(0);
    expect(overdueDays(due, due, TZ)).toBe(1);
    expect(overdueDays(due, new Date('2026-03-07T15:59:59Z'), TZ)).toBe(2);
  });
  it('each overdue day is charged on what was outstanding at its start; a payment stops it', () => {
    const due = new Date('2026-03-05T16:00:00Z'); // 2026-03-06 00:00 Shanghai
    const days = lateFeeDays({ amountFen: 100_000n, dueAt: due }, [
      { at: new Date('2026-03-07T04:00:00Z'), amountFen: 40_000n }, // during 03-07: 03-07 still on 1,000.00
      { at: new Date('2026-03-09T16:00:00Z'), amountFen: 60_000n }, // exactly at 03-10 00:00: 03-10 not charged
    ], new Date('2026-03-20T00:00:00Z'), TZ);
    expect(days).toEqual([
      { day: '2026-03-06', outstandingFen: 100_000n, feeFen: 300n },
      { day: '2026-03-07', outstandingFen: 100_000n, feeFen: 300n },
      { day: '2026-03-08', outstandingFen: 60_000n, feeFen: 180n },
      { day: '2026-03-09', outstandingFen: 60_000n, feeFen: 180n },
    ]);
    // nothing before the due day has begun
    expect(lateFeeDays({ amountFen: 100_000n, dueAt: due }, [], new Date('2026-03-05T15:00:00Z'), TZ)).toEqual([]);
  });
  it('the sum over n unpaid days = n x the daily fee (no compounding, no interest on fees)', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: 10n ** 10n }), fc.integer({ min: 1, max: 60 }), (amount, n) => {
      const due = new Date('2026-05-31T16:00:00Z');
      const upto = new Date(due.getTime() + (n - 1) * 86_400_000 + 3_600_000);
      const days = lateFeeDays({ amountFen: amount, dueAt: due }, [], upto, TZ);
      expect(days.reduce((s, d) => s + d.feeFen, 0n)).toBe(dailyLateFeeFen(amount) * BigInt(dailyLateFeeFen(amount) > 0n ? n : 0));
    }), { numRuns: 50 });
  });
});

describe('payment allocation: oldest first (Civil Code art. 560)', () => {
  const r = (id: number, due: string, out: bigint) => ({ id: BigInt(id), dueAt: new Date(due), issuedAt: new Date('2026-01-01Z'), outstandingFen: out });
  it('settles the earliest due first, splits the last one, reports leftover', () => {
    const open = [r(3, '2026-03-01Z', 500n), r(1, '2026-02-01Z', 300n), r(2, '2026-02-01Z', 200n)];
    expect(oldestFirst(open).map((x) => x.id)).toEqual([1n, 2n, 3n]);
    expect(allocate(600n, open)).toEqual({ allocations: [{ id: 1n, amountFen: 300n }, { id: 2n, amountFen: 200n }, { id: 3n, amountFen: 100n }], leftoverFen: 0n });
    expect(allocate(1_100n, open).leftoverFen).toBe(100n);
    expect(() => allocate(0n, open)).toThrow();
  });
});
