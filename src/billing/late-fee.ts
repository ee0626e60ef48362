/**
 * Receivable terms and the late fee (contract art. 3.2), no I/O.
 * - A receivable is due at the end of the 3rd working day after the business day it is issued (WorkingCalendar
 *   .termEnd); from then it is overdue.
 * - Late fee: 3 per mille per day of the overdue amount, simple interest: day D costs
 *   floor(outstanding at 00:00 of D × 3 / 1000) fen, rounded DOWN to the fen once per receivable and day. Overdue
 *   days are the calendar days from the due day on (the first overdue day is the day after the 3rd working day);
 *   a day counts when the amount was still outstanding at its start. Late fees are receivables themselves but bear
 *   no late fee (no interest on interest).
 */
import { addDays, dayOf, daysBetween, startOfDay } from '../calendar/zone.js';

export const PAYMENT_TERM_WORKING_DAYS = 3;
const LATE_FEE_PER_MILLE_PER_DAY = 3n;

/** One day's late fee on an outstanding amount: floor(outstanding × 3 / 1000). */
export function dailyLateFeeFen(outstandingFen: bigint): bigint {
  if (outstandingFen < 0n) throw new RangeError('outstanding amount must be >= 0');
  return (outstandingFen * LATE_FEE_PER_MILLE_PER_DAY) / 1000n;
}

/** Overdue days begun by `at` for a receivable due at `dueAt` (0 before the due instant). */
export function overdueDays(dueAt: Date, at: Date, timeZone: string): number {
  if (at.getTime() < dueAt.getTime()) return 0;
  return daysBetween(dayOf(dueAt, timeZone), dayOf(at, timeZone)) + 1;
}

interface LateFeeDay {
  day: string; // YYYY-MM-DD
  outstandingFen: bigint; // at 00:00 of the day
  feeFen: bigint;
}

/**
 * The late-fee days of one receivable up to `upto`: every overdue day whose start is <= upto and at whose start
 * something was outstanding, with that day's fee (days with a 0 fen fee are left out). Payments are (time, amount).
 */
export function lateFeeDays(
  r: { amountFen: bigint; dueAt: Date },
  payments: { at: Date; amountFen: bigint }[],
  upto: Date,
  timeZone: string,
): LateFeeDay[] {
  const out: LateFeeDay[] = [];
  const paid = [...payments].sort((a, b) => a.at.getTime() - b.at.getTime());
  const last = dayOf(upto, timeZone);
  let i = 0;
  let outstanding = r.amountFen;
  for (let day = dayOf(r.dueAt, timeZone); day <= last; day = addDays(day, 1)) {
    const start = startOfDay(day, timeZone);
    if (start.getTime() < r.dueAt.getTime()) continue; // due in the middle of this day: not yet overdue at its start
    while (i < paid.length && paid[i]!.at.getTime() <= start.getTime()) outstanding -= paid[i++]!.amountFen;
    if (outstanding <= 0n) break;
    const fee = dailyLateFeeFen(outstanding);
    if (fee > 0n) out.push({ day, outstandingFen: outstanding, feeFen: fee });
  }
  return out;
}
