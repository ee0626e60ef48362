/**
 * Pure validation of rate deck CSV rows. Columns (header row required, order free, names case-insensitive):
 *   prefix (required)           digits, 1-20 (e.g. 86, 8613, 86571)
 *   price_per_minute (required) CNY per minute, exact decimal, at most 6 decimals
 *   destination                 free text, at most 100 characters
 *   initial_increment           seconds, 1-3600 (default 1)
 *   subsequent_increment        seconds, 1-3600 (default 1)
 *   connect_fee                 CNY, at most 6 decimals (default 0)
 *   minimum_seconds             0-3600 (default 0)
 *   effective_from              ISO date/time with zone (default 1970-01-01T00:00:00Z)
 *   effective_to                ISO date/time with zone, after effective_from (default open)
 */
import { Decimal } from 'decimal.js';

export const RATE_COLUMNS = ['prefix', 'destination', 'price_per_minute', 'initial_increment', 'subsequent_increment', 'connect_fee',
  'minimum_seconds', 'effective_from', 'effective_to'] as const;
export type RateColumn = (typeof RATE_COLUMNS)[number];
const REQUIRED: RateColumn[] = ['prefix', 'price_per_minute'];

export interface RateRow {
  prefix: string;
  destination: string;
  pricePerMinute: string; // normalized decimal text
  initialIncrement: number;
  subsequentIncrement: number;
  connectFee: string;
  minimumSeconds: number;
  effectiveFrom: Date;
  effectiveTo: Date | null;
}

export interface RowError {
  line: number;
  message: string;
}

const EPOCH = new Date('1970-01-01T00:00:00Z');
const DECIMAL = /^\d{1,8}(\.\d{1,6})?$/;
const TS = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** Check the header; returns the column order or throws with what is wrong. */
export function checkHeader(header: string[]): RateColumn[] {
  const cols = header.map((h) => h.trim().toLowerCase());
  const unknown = cols.filter((c) => !(RATE_COLUMNS as readonly string[]).includes(c));
  if (unknown.length) throw new Error(`line 1: unknown column(s) ${unknown.join(', ')}; allowed: ${RATE_COLUMNS.join(', ')}`);
  const dup = cols.filter((c, i) => cols.indexOf(c) !== i);
  if (dup.length) throw new Error(`line 1: duplicate column(s) ${dup.join(', ')}`);
  const missing = REQUIRED.filter((r) => !cols.includes(r));
  if (missing.length) throw new Error(`line 1: missing required column(s) ${missing.join(', ')}`);
  return cols as RateColumn[];
}

function intField(v: string | undefined, name: string, dflt: number, min: number, max: number, errs: string[]): number {
  if (v === undefined || v === '') return dflt;
  if (!/^\d{1,6}$/.test(v) || Number(v) < min || Number(v) > max) {
    errs.push(`${name} must be an integer ${min}-${max}, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return Number(v);
}

function tsField(v: string | undefined, name: string, errs: string[]): Date | null {
  if (v === undefined || v === '') return null;
  const d = TS.test(v) ? new Date(v.length === 10 ? `${v}T00:00:00Z` : v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    errs.push(`${name} must be an ISO date or timestamp with zone, got ${JSON.stringify(v)}`);
    return null;
  }
  return d;
}

/** Validate one data row (its 1-based file line); every problem of the row is reported in one message. */
export function parseRateRow(cols: RateColumn[], values: string[], line: number): { row: RateRow } | { error: RowError } {
  const errs: string[] = [];
  if (values.length !== cols.length) return { error: { line, message: `expected ${cols.length} fields, got ${values.length}` } };
  const get = (c: RateColumn): string | undefined => {
    const i = cols.indexOf(c);
    return i < 0 ? undefined : values[i]!.trim();
  };
  const prefix = get('prefix') ?? '';
  if (!/^[0-9]{1,20}$/.test(prefix)) errs.push(`prefix must be 1-20 digits, got ${JSON.stringify(prefix)}`);
  const price = get('price_per_minute') ?? '';
  if (!DECIMAL.test(price)) errs.push(`price_per_minute must be a non-negative decimal with at most 6 decimals (CNY/min), got ${JSON.stringify(price)}`);
  const cf = get('connect_fee') || '0';
  if (!DECIMAL.test(cf)) errs.push(`connect_fee must be a non-negative decimal with at most 6 decimals (CNY), got ${JSON.stringify(cf)}`);
  const destination = get('destination') ?? '';
  if (destination.length > 100) errs.push('destination is longer than 100 characters');
  const initialIncrement = intField(get('initial_increment'), 'initial_increment', 1, 1, 3600, errs);
  const subsequentIncrement = intField(get('subsequent_increment'), 'subsequent_increment', 1, 1, 3600, errs);
  const minimumSeconds = intField(get('minimum_seconds'), 'minimum_seconds', 0, 0, 3600, errs);
  const effectiveFrom = tsField(get('effective_from'), 'effective_from', errs) ?? EPOCH;
  const effectiveTo = tsField(get('effective_to'), 'effective_to', errs);
  if (effectiveTo && effectiveTo.getTime() <= effectiveFrom.getTime()) errs.push('effective_to must be after effective_from');
  if (errs.length) return { error: { line, message: errs.join('; ') } };
  return {
    row: {
      prefix, destination, pricePerMinute: new Decimal(price).toFixed(6), initialIncrement, subsequentIncrement,
      connectFee: new Decimal(cf).toFixed(6), minimumSeconds, effectiveFrom, effectiveTo,
    },
  };
}

/** Key of a deck entry; two rows with one key in one file are an error (which should win?). */
export function rowKey(r: RateRow): string {
  return `${r.prefix}@${r.effectiveFrom.toISOString()}`;
}
