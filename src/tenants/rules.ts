/**
 * Pure business rules of tenants, orders, numbers and fees (no I/O). Money is bigint fen; every rounding rule is
 * stated where it is applied. Calendar rules work on the wall clock of the service time zone.
 */

export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

// ---------------------------------------------------------------------------------------------- calendar

interface Wall {
  y: number;
  m: number; // 1-12
  d: number;
  hh: number;
  mi: number;
  ss: number;
  ms: number;
}

function wallClock(at: Date, timeZone: string): Wall {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return { y: get('year'), m: get('month'), d: get('day'), hh: get('hour'), mi: get('minute'), ss: get('second'), ms: at.getUTCMilliseconds() };
}

/** The instant whose wall clock in timeZone is w (two passes settle the zone offset, DST included). */
function fromWallClock(w: Wall, timeZone: string): Date {
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.hh, w.mi, w.ss, w.ms);
  let t = asUtc;
  for (let i = 0; i < 2; i++) {
    const seen = wallClock(new Date(t), timeZone);
    const seenUtc = Date.UTC(seen.y, seen.m - 1, seen.d, seen.hh, seen.mi, seen.ss, w.ms);
    t += asUtc - seenUtc;
  }
  return new Date(t);
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * `at` plus n calendar months in the service zone. A day that the target month lacks is clamped to its last day
 * (Jan 31 + 1 month = Feb 28/29), so a validity never runs past the month it is due in.
 */
export function addMonths(at: Date, n: number, timeZone: string): Date {
  if (!Number.isInteger(n)) throw new RuleError(`months must be an integer, got ${n}`);
  const w = wallClock(at, timeZone);
  const idx = w.y * 12 + (w.m - 1) + n;
  const y = Math.floor(idx / 12);
  const m = (idx % 12) + 1;
  return fromWallClock({ ...w, y, m, d: Math.min(w.d, daysInMonth(y, m)) }, timeZone);
}

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

/** Month label YYYY-MM of an instant in the service zone (used in idempotency keys of monthly charges). */
export function monthLabel(at: Date, timeZone: string): string {
  const w = wallClock(at, timeZone);
  return `${w.y}-${String(w.m).padStart(2, '0')}`;
}

/**
 * `at` plus n working days in the service zone (Monday-Friday; public holidays are not modelled). Used for the
 * payment deadline of art. 3.2 (3 working days from signing).
 */
export function addWorkingDays(at: Date, n: number, timeZone: string): Date {
  let w = wallClock(at, timeZone);
  let left = n;
  while (left > 0) {
    const next = new Date(Date.UTC(w.y, w.m - 1, w.d + 1));
    w = { ...w, y: next.getUTCFullYear(), m: next.getUTCMonth() + 1, d: next.getUTCDate() };
    const dow = next.getUTCDay();
    if (dow !== 0 && dow !== 6) left--;
  }
  return fromWallClock(w, timeZone);
}

// ---------------------------------------------------------------------------------------------- orders

export interface OrderTerms {
  packageAmountFen: bigint; // one prepaid package
  packageCount: number;
  validityMonths: number;
  numberCount: number;
  monthlyRentFen: bigint; // per number per month
}

export function validateOrderTerms(t: OrderTerms): void {
  if (t.packageAmountFen < 0n) throw new RuleError('package amount must be >= 0');
  if (!Number.isInteger(t.packageCount) || t.packageCount < 0 || t.packageCount > 1000) throw new RuleError('package count must be an integer 0-1000');
  if (!Number.isInteger(t.validityMonths) || t.validityMonths < 1 || t.validityMonths > 120) throw new RuleError('validity must be 1-120 months');
  if (!Number.isInteger(t.numberCount) || t.numberCount < 0 || t.numberCount > 10000) throw new RuleError('number count must be an integer 0-10000');
  if (t.monthlyRentFen < 0n) throw new RuleError('monthly rent must be >= 0');
}

/** Prepaid credit an order buys: package amount x package count. */
export function prepaidFen(t: OrderTerms): bigint {
  return t.packageAmountFen * BigInt(t.packageCount);
}

/**
 * Contract total of an order = prepaid packages + the first month's rent of its numbers
 * (the sample order: 11,000 x 1 + 420 x 1 = 11,420 CNY). Later months' rent is charged monthly (chargeRental).
 */
export function orderTotalFen(t: OrderTerms): bigint {
  return prepaidFen(t) + t.monthlyRentFen * BigInt(t.numberCount);
}

/**
 * The monthly minimum ("one month of service fees", art. 2.2) = prepaid spread over the validity, rounded UP to the
 * fen (the notice threshold errs towards warning early), + the monthly rent of the order's numbers.
 */
export function monthlyFeeFen(t: OrderTerms): bigint {
  const months = BigInt(t.validityMonths);
  const prepaid = prepaidFen(t);
  return (prepaid + months - 1n) / months + t.monthlyRentFen * BigInt(t.numberCount);
}

// ---------------------------------------------------------------------------------------------- numbers

export type NumberState = 'pending_review' | 'approved' | 'suspended' | 'reclaimed';
export type NumberAction = 'approve' | 'suspend' | 'reclaim';

/**
 * Real-name number lifecycle (art. 4.2-4.3): pending_review → approved (after qualification review);
 * approved → suspended (carrier asks for new documents) → approved again; any state → reclaimed (end of service),
 * which is final. Anything else is refused.
 */
export function nextNumberState(from: NumberState, action: NumberAction): NumberState {
  const table: Record<NumberState, Partial<Record<NumberAction, NumberState>>> = {
    pending_review: { approve: 'approved', reclaim: 'reclaimed' },
    approved: { suspend: 'suspended', reclaim: 'reclaimed' },
    suspended: { approve: 'approved', reclaim: 'reclaimed' },
    reclaimed: {},
  };
  const to = table[from][action];
  if (!to) throw new RuleError(`a number in state ${from} cannot be ${action === 'approve' ? 'approved' : action === 'suspend' ? 'suspended' : 'reclaimed'}`);
  return to;
}

/** E.164 as stored: '+' then 6-15 digits, first digit not 0. Accepts spaces/dashes and a leading 00 in input. */
export function normalizeE164(input: string): string {
  const s = input.trim().replace(/[\s-]/g, '').replace(/^00/, '+');
  if (!/^\+[1-9][0-9]{5,14}$/.test(s)) throw new RuleError(`not an E.164 number (+ and 6-15 digits): ${JSON.stringify(input)}`);
  return s;
}

// ---------------------------------------------------------------------------------------------- fees

/** Late fee rate of art. 3.2: 3 per mille per day. */
export const LATE_FEE_PER_MILLE_PER_DAY = 3n;

/**
 * Late fee on an overdue amount after `days` whole days overdue: simple (not compounded) interest on the overdue
 * principal, overdueFen x 3/1000 x days, computed exactly and rounded ONCE, DOWN to the fen (never more than the
 * contract allows). Fees accrued earlier are not themselves charged interest.
 */
export function lateFeeFen(overdueFen: bigint, days: number): bigint {
  if (overdueFen < 0n) throw new RuleError('overdue amount must be >= 0');
  if (!Number.isInteger(days) || days < 0) throw new RuleError('days overdue must be an integer >= 0');
  return (overdueFen * LATE_FEE_PER_MILLE_PER_DAY * BigInt(days)) / 1000n;
}

/** Whole days overdue at `at` for a payment due at `dueAt` (a started day does not count until it is complete). */
export function daysOverdue(dueAt: Date, at: Date): number {
  const ms = at.getTime() - dueAt.getTime();
  return ms <= 0 ? 0 : Math.floor(ms / 86_400_000);
}

// ---------------------------------------------------------------------------------------------- low balance

export interface LowBalanceInput {
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
