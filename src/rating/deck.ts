/**
 * A rate plan's deck in memory and its lookup: longest prefix of the called number among the entries effective
 * at the call's time. Pure: built from rows, no I/O.
 */
import { Decimal } from 'decimal.js';
import type { AppliedRate } from '../cdr/types.js';

type Rounding = AppliedRate['rounding'];

export interface RateEntry {
  ratePlanId: string;
  prefix: string; // digits
  destination: string;
  pricePerMinute: string; // exact decimal CNY, at most 6 decimals
  initialIncrement: number;
  subsequentIncrement: number;
  connectFee: string; // exact decimal CNY, at most 6 decimals
  minimumSeconds: number;
  effectiveFrom: number; // epoch ms, inclusive
  effectiveTo: number | null; // epoch ms, exclusive; null = open
}

const MONEY = /^\d{1,8}(\.\d{1,6})?$/;

/** Refuses an entry the charging scripts could not price exactly (see rating/charge.ts scriptRate). */
function validateEntry(e: RateEntry): void {
  const where = `rate plan ${e.ratePlanId} prefix ${e.prefix}`;
  if (!/^[0-9]{1,20}$/.test(e.prefix)) throw new RangeError(`${where}: prefix must be 1-20 digits`);
  if (!MONEY.test(e.pricePerMinute)) throw new RangeError(`${where}: price ${e.pricePerMinute} is not a CNY amount with at most 6 decimals below 1e8`);
  if (!MONEY.test(e.connectFee)) throw new RangeError(`${where}: connect fee ${e.connectFee} is not a CNY amount with at most 6 decimals below 1e8`);
  for (const [k, v, min] of [['initial increment', e.initialIncrement, 1], ['subsequent increment', e.subsequentIncrement, 1], ['minimum seconds', e.minimumSeconds, 0]] as const) {
    if (!Number.isInteger(v) || v < min || v > 3600) throw new RangeError(`${where}: ${k} ${v} not an integer in ${min}..3600`);
  }
}

/** numeric text from PostgreSQL ("0.100000") → canonical decimal text ("0.1"). */
function canonicalDecimal(s: string): string {
  return new Decimal(s).toFixed();
}

export class RateDeck {
  private readonly byPrefix = new Map<string, RateEntry[]>();
  private readonly longest: number;

  constructor(readonly ratePlanId: string, entries: readonly RateEntry[]) {
    let longest = 0;
    for (const e of entries) {
      validateEntry(e);
      const list = this.byPrefix.get(e.prefix) ?? [];
      list.push(e);
      this.byPrefix.set(e.prefix, list);
      longest = Math.max(longest, e.prefix.length);
    }
    this.longest = longest;
  }

  get size(): number {
    let n = 0;
    for (const l of this.byPrefix.values()) n += l.length;
    return n;
  }

  /**
   * The entry for `digits` at time `at`: the longest prefix that has an entry effective at `at` (an entry not yet
   * or no longer effective does not shadow a shorter prefix). Among several effective entries of the same prefix,
   * the one that started last wins. null = not routable.
   */
  find(digits: string, at: number): RateEntry | null {
    if (!/^[0-9]+$/.test(digits)) return null;
    for (let len = Math.min(this.longest, digits.length); len >= 1; len--) {
      const list = this.byPrefix.get(digits.slice(0, len));
      if (!list) continue;
      let best: RateEntry | null = null;
      for (const e of list) {
        if (e.effectiveFrom <= at && (e.effectiveTo === null || at < e.effectiveTo) && (!best || e.effectiveFrom > best.effectiveFrom)) best = e;
      }
      if (best) return best;
    }
    return null;
  }
}

/** The AppliedRate copied into the CDR for a deck entry and the configured rounding. */
export function appliedRate(e: RateEntry, rounding: Rounding): AppliedRate {
  return {
    ratePlanId: e.ratePlanId,
    prefix: e.prefix,
    pricePerMinute: canonicalDecimal(e.pricePerMinute),
    initialIncrement: e.initialIncrement,
    subsequentIncrement: e.subsequentIncrement,
    connectFee: canonicalDecimal(e.connectFee),
    minimumSeconds: e.minimumSeconds,
    rounding,
  };
}
