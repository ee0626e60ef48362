import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addMonths, addWorkingDays, amountDueFen, daysOverdue, lateFeeFen, lowBalanceReasons, monthlyFeeFen, monthLabel, nextNumberState,
  normalizeE164, orderTotalFen, remainingMonthsCeil, RuleError, validateOrderTerms, type OrderTerms,
} from '../../src/tenants/rules.js';

const TZ = 'Asia/Shanghai';
const sample: OrderTerms = { packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1, monthlyRentFen: 42_000n };

describe('orders', () => {
  it('the sample order totals 11,420.00 CNY', () => {
    expect(orderTotalFen(sample)).toBe(1_142_000n);
  });
  it('monthly fee = prepaid / validity rounded UP to the fen + rent: 11000/12 = 916.666.. → 916.67, + 420', () => {
    expect(monthlyFeeFen(sample)).toBe(91_667n + 42_000n);
    expect(monthlyFeeFen({ ...sample, packageAmountFen: 1_200_000n })).toBe(100_000n + 42_000n); // exact division: no rounding
  });
  it('bad terms are refused', () => {
    expect(() => validateOrderTerms({ ...sample, validityMonths: 0 })).toThrow(RuleError);
    expect(() => validateOrderTerms({ ...sample, packageAmountFen: -1n })).toThrow(/package amount/);
    expect(() => validateOrderTerms({ ...sample, numberCount: 1.5 })).toThrow(/number count/);
  });
});

describe('calendar', () => {
  it('addMonths keeps the Shanghai wall clock and clamps the day to the month end', () => {
    // 2026-01-31 10:00 Shanghai = 02:00Z
    expect(addMonths(new Date('2026-01-31T02:00:00Z'), 1, TZ).toISOString()).toBe('2026-02-28T02:00:00.000Z');
    expect(addMonths(new Date('2028-01-31T02:00:00Z'), 1, TZ).toISOString()).toBe('2028-02-29T02:00:00.000Z');
    expect(addMonths(new Date('2026-03-15T16:30:00Z'), 12, TZ).toISOString()).toBe('2027-03-15T16:30:00.000Z');
    // 2026-12-31 23:30 Shanghai is still December there although it is 15:30Z
    expect(addMonths(new Date('2026-12-31T15:30:00Z'), 2, TZ).toISOString()).toBe('2027-02-28T15:30:00.000Z');
  });
  it('addMonths honours DST zones (wall clock kept across the change)', () => {
    // 2026-02-15 09:00 New York (EST, -5) + 1 month = 2026-03-15 09:00 EDT (-4)
    expect(addMonths(new Date('2026-02-15T14:00:00Z'), 1, 'America/New_York').toISOString()).toBe('2026-03-15T13:00:00.000Z');
  });
  it('remaining months: a part month counts as a whole month', () => {
    const start = new Date('2026-01-10T00:00:00Z');
    const end = addMonths(start, 12, TZ);
    expect(remainingMonthsCeil(start, end, TZ)).toBe(12);
    expect(remainingMonthsCeil(new Date(start.getTime() + 1), end, TZ)).toBe(12);
    expect(remainingMonthsCeil(addMonths(start, 11, TZ), end, TZ)).toBe(1);
    expect(remainingMonthsCeil(new Date(end.getTime() - 1000), end, TZ)).toBe(1);
    expect(remainingMonthsCeil(end, end, TZ)).toBe(0);
  });
  it('remaining months is the least n with from + n months >= to', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2020-01-01Z'), max: new Date('2035-01-01Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 5 * 365 * 86_400_000 }), (from, span) => {
        const to = new Date(from.getTime() + span);
        const n = remainingMonthsCeil(from, to, TZ);
        expect(addMonths(from, n, TZ).getTime()).toBeGreaterThanOrEqual(to.getTime());
        if (n > 0) expect(addMonths(from, n - 1, TZ).getTime()).toBeLessThan(to.getTime());
      }),
    );
  });
  it('working days skip weekends (Friday + 3 working days = Wednesday)', () => {
    // Friday 2026-11-20 10:00 Shanghai
    expect(addWorkingDays(new Date('2026-11-20T02:00:00Z'), 3, TZ).toISOString()).toBe('2026-11-25T02:00:00.000Z');
    // Monday + 3 = Thursday
    expect(addWorkingDays(new Date('2026-11-23T02:00:00Z'), 3, TZ).toISOString()).toBe('2026-11-26T02:00:00.000Z');
  });
  it('monthLabel is the month in the service zone', () => {
    expect(monthLabel(new Date('2026-11-30T16:30:00Z'), TZ)).toBe('2026-12');
    expect(monthLabel(new Date('2026-11-30T15:30:00Z'), TZ)).toBe('2026-11');
  });
});

describe('numbers', () => {
  it('follow pending_review → approved ⇄ suspended → reclaimed, nothing else', () => {
    expect(nextNumberState('pending_review', 'approve')).toBe('approved');
    expect(nextNumberState('approved', 'suspend')).toBe('suspended');
    expect(nextNumberState('suspended', 'approve')).toBe('approved');
    expect(nextNumberState('approved', 'reclaim')).toBe('reclaimed');
    expect(() => nextNumberState('pending_review', 'suspend')).toThrow(/pending_review cannot be suspended/);
    expect(() => nextNumberState('reclaimed', 'approve')).toThrow(RuleError);
    expect(() => nextNumberState('approved', 'approve')).toThrow(RuleError);
  });
  it('E.164 normalisation accepts 00 and separators, refuses junk', () => {
    expect(normalizeE164('+86 571-8888-0000')).toBe('+8657188880000');
    expect(normalizeE164('008657188880000')).toBe('+8657188880000');
    expect(() => normalizeE164('057188880000')).toThrow(/E\.164/);
    expect(() => normalizeE164('+86abc')).toThrow(RuleError);
  });
});

describe('late fee (3 per mille per day, simple interest, rounded once DOWN to the fen)', () => {
  it('examples', () => {
    expect(lateFeeFen(1_142_000n, 1)).toBe(3_426n); // 11,420.00 x 0.003 = 34.26 exactly
    expect(lateFeeFen(1_142_000n, 10)).toBe(34_260n);
    expect(lateFeeFen(333n, 1)).toBe(0n); // 0.999 fen → 0
    expect(lateFeeFen(333n, 2)).toBe(1n); // 1.998 fen → 1 (down)
    expect(lateFeeFen(1000n, 0)).toBe(0n);
    expect(() => lateFeeFen(-1n, 1)).toThrow(RuleError);
    expect(() => lateFeeFen(1n, 1.5)).toThrow(RuleError);
  });
  it('is never more than the exact fee and less than one fen below it; non-decreasing in days', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 3650 }), (amount, days) => {
        const fee = lateFeeFen(amount, days);
        const exactTimes1000 = amount * 3n * BigInt(days);
        expect(fee * 1000n <= exactTimes1000).toBe(true);
        expect((fee + 1n) * 1000n > exactTimes1000).toBe(true);
        expect(lateFeeFen(amount, days + 1) >= fee).toBe(true);
      }),
    );
  });
  it('days overdue counts whole days only', () => {
    const due = new Date('2026-01-01T00:00:00Z');
    expect(daysOverdue(due, new Date('2025-12-31T00:00:00Z'))).toBe(0);
    expect(daysOverdue(due, new Date('2026-01-01T23:59:59Z'))).toBe(0);
    expect(daysOverdue(due, new Date('2026-01-02T00:00:00Z'))).toBe(1);
  });
});

describe('low balance (art. 2.2)', () => {
  const monthly = monthlyFeeFen(sample); // 1,336.67 CNY
  it('below 10% of total prepaid is low; exactly 10% is not', () => {
    expect(lowBalanceReasons({ balanceFen: 110_000n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: 0n, percent: 10 })).toEqual([]);
    expect(lowBalanceReasons({ balanceFen: 109_999n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: 0n, percent: 10 })).toEqual(['below_percent_of_prepaid']);
  });
  it('below one month of fees is low even above 10%', () => {
    // 5% of a small prepaid is tiny, but one month of fees is 1,336.67 CNY
    expect(lowBalanceReasons({ balanceFen: 133_666n, totalPrepaidFen: 200_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual(['below_one_month_of_fees']);
    expect(lowBalanceReasons({ balanceFen: 133_667n, totalPrepaidFen: 200_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual([]);
    expect(lowBalanceReasons({ balanceFen: 0n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual(['below_percent_of_prepaid', 'below_one_month_of_fees']);
  });
  it('amount due = monthly minimum x remaining months', () => {
    expect(amountDueFen(monthly, 3)).toBe(monthly * 3n);
    expect(amountDueFen(monthly, 0)).toBe(0n);
    expect(() => amountDueFen(monthly, -1)).toThrow(RuleError);
  });
});
