/**
 * Number rent as data (order 1(2) and the rules doc's "Reading the rent line"): an amount per number and a period
 * (month | year), billed in advance at the start of each period of the service period. Periods are anchored at the
 * service start: [start + k·P, start + (k+1)·P), the last one cut at the service end. No I/O.
 *
 * Pro-rata (stated in docs/billing.md): a number held for only part of a period - added after the period started,
 * or the period cut short by the service end - pays amount × days held / days of the full period, counting whole
 * business days (the day it is added counts; the period end day does not), rounded DOWN to the fen, so a tenant
 * never pays more than the full rate.
 */
import { addMonths, dayOf, daysBetween } from '../calendar/zone.js';

export type RentPeriod = 'month' | 'year';
export const RENT_PERIODS: readonly RentPeriod[] = ['month', 'year'];
const PERIOD_MONTHS: Record<RentPeriod, number> = { month: 1, year: 12 };

export interface Rent {
  amountFen: bigint; // per number per period
  period: RentPeriod;
}

interface RentWindow {
  index: number; // 0 = the period that starts at the service start
  start: Date;
  end: Date; // exclusive; the service end for the last period
  fullEnd: Date; // where the period would end if the service did not stop first
}

/** The rent periods of a service period, in order. */
export function rentPeriods(serviceStart: Date, serviceEnd: Date, period: RentPeriod, timeZone: string): RentWindow[] {
  const out: RentWindow[] = [];
  const months = PERIOD_MONTHS[period];
  for (let k = 0; k < 1200; k++) {
    const start = addMonths(serviceStart, k * months, timeZone);
    if (start.getTime() >= serviceEnd.getTime()) break;
    const fullEnd = addMonths(serviceStart, (k + 1) * months, timeZone);
    out.push({ index: k, start, end: fullEnd.getTime() < serviceEnd.getTime() ? fullEnd : serviceEnd, fullEnd });
  }
  return out;
}

interface RentCharge {
  amountFen: bigint;
  daysCharged: number;
  daysInPeriod: number;
  proRata: boolean;
}

/** Rent of one period for a number held from `heldFrom` (null or before the period start: the whole period). */
export function rentForPeriod(rent: Rent, w: RentWindow, heldFrom: Date | null, timeZone: string): RentCharge {
  const fullDays = daysBetween(dayOf(w.start, timeZone), dayOf(w.fullEnd, timeZone));
  const from = heldFrom && heldFrom.getTime() > w.start.getTime() ? heldFrom : w.start;
  const days = Math.max(0, daysBetween(dayOf(from, timeZone), dayOf(w.end, timeZone)));
  if (days >= fullDays) return { amountFen: rent.amountFen, daysCharged: fullDays, daysInPeriod: fullDays, proRata: false };
  return { amountFen: (rent.amountFen * BigInt(days)) / BigInt(fullDays), daysCharged: days, daysInPeriod: fullDays, proRata: true };
}

/** Rent of a number held over a whole service period (all its periods; the last one pro-rata when cut short). */
export function rentOverService(rent: Rent, serviceStart: Date, serviceEnd: Date, timeZone: string): bigint {
  return rentPeriods(serviceStart, serviceEnd, rent.period, timeZone).reduce((s, w) => s + rentForPeriod(rent, w, null, timeZone).amountFen, 0n);
}

/** One month's share of a rent (for the low-balance rule): amount / months per period, exact (a fraction of fen). */
export function monthlyShare(rent: Rent): { num: bigint; den: bigint } {
  return { num: rent.amountFen, den: BigInt(PERIOD_MONTHS[rent.period]) };
}
