/**
 * Pure business rules of tenants, orders, numbers and fees (no I/O). Money is bigint fen; every rounding rule is
 * stated where it is applied. Calendar rules work on the wall clock of the service time zone.
 */

import { addMonths, wallClock } from '../calendar/zone.js';
import type { OrderMoney } from '../billing/contract.js';
import { RENT_PERIODS, type Rent } from '../billing/rent.js';

export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

// ---------------------------------------------------------------------------------------------- calendar

/**
 * Whole months from `from` to `to`, a part month counting as a whole one (contract art. 2.2); 0 when to <= from.
 */
export function remainingMonthsCeil(from: Date, to: Date, timeZone: string): number {
  if (to.getTime() <= from.getTime()) return 0;
  const a = wallClock(from, timeZone);
  const b = wallClock(to, timeZone);
  let n = (b.y - a.y) * 12 + (b.m - a.m);
  n = Math.max(n - 1, 0);
  while (addMonths(from, n, timeZone).getTime() < to.getTime()) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------- orders

export type OrderTerms = OrderMoney;

export function validateOrderTerms(t: OrderTerms): void {
  if (t.packageAmountFen < 0n) throw new RuleError('package amount must be >= 0');
  if (!Number.isInteger(t.packageCount) || t.packageCount < 0 || t.packageCount > 1000) throw new RuleError('package count must be an integer 0-1000');
  if (!Number.isInteger(t.validityMonths) || t.validityMonths < 1 || t.validityMonths > 120) throw new RuleError('validity must be 1-120 months');
  if (!Number.isInteger(t.numberCount) || t.numberCount < 0 || t.numberCount > 10000) throw new RuleError('number count must be an integer 0-10000');
  validateRent(t.rent);
}

export function validateRent(r: Rent): void {
  if (r.amountFen < 0n) throw new RuleError('rent must be >= 0');
  if (!RENT_PERIODS.includes(r.period)) throw new RuleError(`rent period must be one of ${RENT_PERIODS.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------- numbers

export type NumberState = 'pending_review' | 'approved' | 'suspended' | 'rejected' | 'reclaimed';
export type NumberAction = 'approve' | 'reject' | 'suspend' | 'resubmit' | 'reclaim';

/**
 * Real-name number lifecycle (art. 4.2-4.3): pending_review → approved (after qualification review);
 * pending_review → rejected (documents refused) → pending_review again when new documents are submitted (resubmit);
 * approved → suspended (carrier asks for new documents) → approved again; any state → reclaimed (end of service),
 * which is final. Anything else is refused.
 */
export function nextNumberState(from: NumberState, action: NumberAction): NumberState {
  const table: Record<NumberState, Partial<Record<NumberAction, NumberState>>> = {
    pending_review: { approve: 'approved', reject: 'rejected', reclaim: 'reclaimed' },
    approved: { suspend: 'suspended', reclaim: 'reclaimed' },
    suspended: { approve: 'approved', reclaim: 'reclaimed' },
    rejected: { resubmit: 'pending_review', reclaim: 'reclaimed' },
    reclaimed: {},
  };
  const done: Record<NumberAction, string> = { approve: 'approved', reject: 'rejected', suspend: 'suspended', resubmit: 'resubmitted for review', reclaim: 'reclaimed' };
  const to = table[from][action];
  if (!to) throw new RuleError(`a number in state ${from} cannot be ${done[action]}`);
  return to;
}

/** Kinds of real-name document a number's review is based on (art. 4.2). */
export const DOC_TYPES = ['business_licence', 'legal_rep_id', 'agent_id', 'authorization_letter', 'number_application', 'other'] as const;
export type DocType = (typeof DOC_TYPES)[number];

/** E.164 as stored: '+' then 6-15 digits, first digit not 0. Accepts spaces/dashes and a leading 00 in input. */
export function normalizeE164(input: string): string {
  const s = input.trim().replace(/[\s-]/g, '').replace(/^00/, '+');
  if (!/^\+[1-9][0-9]{5,14}$/.test(s)) throw new RuleError(`not an E.164 number (+ and 6-15 digits): ${JSON.stringify(input)}`);
  return s;
}

// ---------------------------------------------------------------------------------------------- low balance

interface LowBalanceInput {
  balanceFen: bigint; // prepaid balance now (paid + gift usable credit)
  totalPrepaidFen: bigint; // total prepaid amount of the active order (+ top-ups)
  monthlyFeeFen: bigint; // one month of service fees
  percent: number; // config charging.lowBalancePercent (contract: 10)
}

export type LowBalanceReason = 'below_percent_of_prepaid' | 'below_one_month_of_fees';

/**
 * Art. 2.2: low when the balance is strictly below percent% of the total prepaid, OR strictly below one month of
 * fees. Compared exactly in integers (balance x 100 < total x percent).
 */
export function lowBalanceReasons(i: LowBalanceInput): LowBalanceReason[] {
  const out: LowBalanceReason[] = [];
  if (i.balanceFen * 100n < i.totalPrepaidFen * BigInt(i.percent)) out.push('below_percent_of_prepaid');
  if (i.balanceFen < i.monthlyFeeFen) out.push('below_one_month_of_fees');
  return out;
}

/** Amount due on a low-balance notice: monthly minimum x remaining months of the period (part month = whole). */
export function amountDueFen(monthlyMinimumFen: bigint, remainingMonths: number): bigint {
  if (!Number.isInteger(remainingMonths) || remainingMonths < 0) throw new RuleError('remaining months must be an integer >= 0');
  return monthlyMinimumFen * BigInt(remainingMonths);
}
