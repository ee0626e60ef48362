import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  amountDueFen, lowBalanceReasons, nextNumberState, normalizeE164, remainingMonthsCeil, RuleError, validateOrderTerms, type OrderTerms,
} from '../../src/tenants/rules.js';
import { addMonths } from '../../src/calendar/zone.js';
import { monthlyFeeFen } from '../../src/billing/contract.js';

const TZ = 'Asia/Shanghai';
const sample: OrderTerms = { packageAmountFen: 1_100_000n, packageCount: 1, validityMonths: 12, numberCount: 1, rent: { amountFen: 42_000n, period: 'year' } };

describe('orders', () => {
  it('bad terms are refused', () => {
    expect(() => validateOrderTerms({ ...sample, validityMonths: 0 })).toThrow(RuleError);
    expect(() => validateOrderTerms({ ...sample, packageAmountFen: -1n })).toThrow(/package amount/);
    expect(() => validateOrderTerms({ ...sample, numberCount: 1.5 })).toThrow(/number count/);
    expect(() => validateOrderTerms({ ...sample, rent: { amountFen: -1n, period: 'year' } })).toThrow(/rent/);
    expect(() => validateOrderTerms({ ...sample, rent: { amountFen: 1n, period: 'week' as never } })).toThrow(/rent period/);
  });
});

describe('calendar', () => {
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

describe('low balance (art. 2.2)', () => {
  const monthly = monthlyFeeFen(sample); // 951.67 CNY
  it('below 10% of total prepaid is low; exactly 10% is not', () => {
    expect(lowBalanceReasons({ balanceFen: 110_000n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: 0n, percent: 10 })).toEqual([]);
    expect(lowBalanceReasons({ balanceFen: 109_999n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: 0n, percent: 10 })).toEqual(['below_percent_of_prepaid']);
  });
  it('below one month of fees is low even above 10%', () => {
    // 10% of a small prepaid is tiny, but one month of fees is 951.67 CNY
    expect(lowBalanceReasons({ balanceFen: 95_166n, totalPrepaidFen: 200_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual(['below_one_month_of_fees']);
    expect(lowBalanceReasons({ balanceFen: 95_167n, totalPrepaidFen: 200_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual([]);
    expect(lowBalanceReasons({ balanceFen: 0n, totalPrepaidFen: 1_100_000n, monthlyFeeFen: monthly, percent: 10 })).toEqual(['below_percent_of_prepaid', 'below_one_month_of_fees']);
  });
  it('amount due = monthly minimum x remaining months', () => {
    expect(amountDueFen(monthly, 3)).toBe(monthly * 3n);
    expect(amountDueFen(monthly, 0)).toBe(0n);
    expect(() => amountDueFen(monthly, -1)).toThrow(RuleError);
  });
});
