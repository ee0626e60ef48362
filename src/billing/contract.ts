/**
 * Money of an order (no I/O): prepaid credit, contract total, the monthly fee of the low-balance rule and the
 * early-termination fee. Every rounding is stated here and in docs/billing.md.
 */
import { Decimal } from 'decimal.js';
import { monthlyShare, rentOverService, type Rent } from './rent.js';
import { addMonths } from '../calendar/zone.js';

export interface OrderMoney {
  packageAmountFen: bigint;
  packageCount: number;
  validityMonths: number;
  numberCount: number;
  rent: Rent; // per number
}

/** Prepaid credit an order buys: package amount × package count (order 1(1)). */
export function prepaidFen(t: OrderMoney): bigint {
  return t.packageAmountFen * BigInt(t.packageCount);
}

/**
 * Contract total (order 1(3)) = prepaid packages + the rent of the ordered numbers over the whole service period
 * (every rent period from activation to activation + validity; a period cut short pro-rata, rounded down). The demo:
 * 11,000 × 1 + 420 (per year) × 1 number × 1 year = 11,420.00 CNY. With monthly rent the 12 months are all in it.
 */
export function contractTotalFen(t: OrderMoney, activatedAt: Date, timeZone: string): bigint {
  const end = addMonths(activatedAt, t.validityMonths, timeZone);
  return prepaidFen(t) + rentOverService(t.rent, activatedAt, end, timeZone) * BigInt(t.numberCount);
}

/**
 * "One month of service fees" (art. 2.2; the rules doc): prepaid ÷ validity months + the rent's monthly share of the
 * ordered numbers, summed exactly and rounded UP once to the fen (the notice errs towards warning early).
 * Demo: 11,000 / 12 + 420 / 12 = 951.666… → 951.67 CNY.
 */
export function monthlyFeeFen(t: OrderMoney): bigint {
  const share = monthlyShare(t.rent);
  return BigInt(
    new Decimal(prepaidFen(t).toString()).div(t.validityMonths)
      .plus(new Decimal((share.num * BigInt(t.numberCount)).toString()).div(share.den.toString()))
      .ceil().toFixed(0),
  );
}

/** Early termination (art. 4.6): 30% of the contract value, rounded DOWN to the fen. Demo: 11,420 → 3,426.00. */
const EARLY_TERMINATION_PERCENT = 30n;
export function earlyTerminationFeeFen(contractValueFen: bigint): bigint {
  if (contractValueFen < 0n) throw new RangeError('contract value must be >= 0');
  return (contractValueFen * EARLY_TERMINATION_PERCENT) / 100n;
}
