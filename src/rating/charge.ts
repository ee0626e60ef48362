/**
 * The price of a call, exactly (decimal.js), rounded once per call to the fen. Pure.
 *
 *   seconds      = ceil(billed duration ms / 1000)           (a started second is a second)
 *   billable(s)  = 0 if s = 0; else initial increment if s <= initial; else initial + ceil((s - initial) / sub) * sub;
 *                  then at least minimumSeconds
 *   charge(s)    = 0 if s = 0 (no connect fee for a call that never lasted); else
 *                  round_fen(connectFee + pricePerMinute * billable(s) / 60)   with round = up | down | half-up
 *
 * The same function is implemented in src/charging/lua/lib.lua over integers (micro-CNY); scriptRate() gives its
 * inputs, and tests check both agree on every scheme.
 */
import { Decimal } from 'decimal.js';
import type { AppliedRate, CdrRecord } from '../cdr/types.js';

const D = Decimal.clone({ precision: 50, rounding: Decimal.ROUND_HALF_UP });

/** A started second counts as a second. */
export function durationSeconds(durationMs: number): number {
  if (!Number.isSafeInteger(durationMs) || durationMs < 0) throw new RangeError(`duration must be a whole number of ms >= 0, got ${durationMs}`);
  return Math.ceil(durationMs / 1000);
}

export function billableSeconds(seconds: number, r: Pick<AppliedRate, 'initialIncrement' | 'subsequentIncrement' | 'minimumSeconds'>): number {
  if (seconds <= 0) return 0;
  const b = seconds <= r.initialIncrement
    ? r.initialIncrement
    : r.initialIncrement + Math.ceil((seconds - r.initialIncrement) / r.subsequentIncrement) * r.subsequentIncrement;
  return Math.max(b, r.minimumSeconds);
}

const MODE = { up: Decimal.ROUND_UP, down: Decimal.ROUND_DOWN, 'half-up': Decimal.ROUND_HALF_UP } as const;

/** Charge in fen of a call lasting `seconds` whole seconds. */
export function chargeFen(r: AppliedRate, seconds: number): bigint {
  const b = billableSeconds(seconds, r);
  if (b === 0) return 0n;
  const cny = new D(r.connectFee).plus(new D(r.pricePerMinute).mul(b).div(60));
  return BigInt(cny.mul(100).toDecimalPlaces(0, MODE[r.rounding]).toFixed(0));
}

/** Re-rating: the charge of a CDR recomputed from its own inputs (AppliedRate + billed duration). */
export function rerate(cdr: Pick<CdrRecord, 'rate' | 'durationMs'>): { billableSeconds: number; chargeFen: bigint } {
  if (!cdr.rate) return { billableSeconds: 0, chargeFen: 0n };
  const s = durationSeconds(cdr.durationMs);
  return { billableSeconds: billableSeconds(s, cdr.rate), chargeFen: chargeFen(cdr.rate, s) };
}

/** Integer inputs of the Lua implementation: prices in micro-CNY. */
interface ScriptRate { price: string; cf: string; init: number; sub: number; min: number; rnd: AppliedRate['rounding'] }

/** Largest price×seconds product the Lua side handles exactly (< 2^53 with margin). */
const SCRIPT_SAFE_PRODUCT = 2 ** 52;

export function scriptRate(r: AppliedRate): ScriptRate {
  const price = new D(r.pricePerMinute).mul(1_000_000);
  const cf = new D(r.connectFee).mul(1_000_000);
  if (!price.isInteger() || !cf.isInteger()) throw new RangeError(`rate ${r.ratePlanId}/${r.prefix} has more than 6 decimals`);
  return { price: price.toFixed(0), cf: cf.toFixed(0), init: r.initialIncrement, sub: r.subsequentIncrement, min: r.minimumSeconds, rnd: r.rounding };
}

/** The longest call (seconds) the scripts can price exactly at this rate, capped at `cap`. */
export function maxExactSeconds(r: AppliedRate, cap: number): number {
  const price = new D(r.pricePerMinute).mul(1_000_000);
  if (price.isZero()) return cap;
  const s = new D(SCRIPT_SAFE_PRODUCT).div(price).floor().minus(3600).toNumber(); // room for one more increment
  return Math.max(0, Math.min(cap, s));
}
