/**
 * THE money unit of storage, stated once.
 *
 * - Balances, charges, ledger amounts, top-ups, rents and fees are integers of **fen** (0.01 CNY):
 *   SQL `bigint` columns named `*_fen`, Redis integers, TypeScript `bigint` or decimal.js values that are
 *   whole numbers. Never a float.
 * - Rates are exact decimals in CNY per minute (SQL `numeric(14,6)`, decimal.js in TypeScript).
 *   A call's charge is computed exactly from the rate and rounded once, per call, to the fen
 *   (config `charging.rounding`, default up).
 */
import { Decimal } from 'decimal.js';

const FEN_PER_CNY = 100;

/** "11000.00" → 1100000n. Refuses more than 2 decimals, signs other than a leading '-', and non-numbers. */
export function cnyToFen(text: string): bigint {
  const s = text.trim();
  if (!/^-?\d{1,15}(\.\d{1,2})?$/.test(s)) throw new RangeError(`not a CNY amount with at most 2 decimals: ${JSON.stringify(text)}`);
  return BigInt(new Decimal(s).mul(FEN_PER_CNY).toFixed(0));
}

/** 1100000n → "11000.00" */
export function fenToCny(fen: bigint | number): string {
  return new Decimal(fen.toString()).div(FEN_PER_CNY).toFixed(2);
}
