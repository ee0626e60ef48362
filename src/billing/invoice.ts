/**
 * Tax invoice amounts (contract art. 3.4), no I/O. A payment is VAT-inclusive: net = total × 100 / (100 + rate),
 * rounded HALF UP to the fen; tax = total - net, so net + tax is always exactly the amount paid.
 * Invoice numbers: <year>-<8-digit sequence>, gapless per calendar year of issue (service time zone).
 */
import { Decimal } from 'decimal.js';

export function splitVat(totalFen: bigint, ratePercent: string): { netFen: bigint; taxFen: bigint } {
  if (totalFen <= 0n) throw new RangeError('invoice total must be > 0');
  const rate = new Decimal(ratePercent);
  if (rate.isNegative() || rate.gte(100)) throw new RangeError(`VAT rate must be 0-99.99 %, got ${ratePercent}`);
  const net = BigInt(new Decimal(totalFen.toString()).mul(100).div(rate.plus(100)).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).toFixed(0));
  return { netFen: net, taxFen: totalFen - net };
}

export function invoiceNumber(year: number, seq: number): string {
  if (!Number.isInteger(seq) || seq < 1 || seq > 99_999_999) throw new RangeError(`invoice sequence out of range: ${seq}`);
  return `${year}-${String(seq).padStart(8, '0')}`;
}

/** A unified social credit code (18) or an older taxpayer number (15-20 of 0-9 A-Z). */
export const TAX_ID = /^[0-9A-Z]{15,20}$/;
