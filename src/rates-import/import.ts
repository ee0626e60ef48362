/**
 * Rate deck CSV import/export for rate_deck_entries. Import reads the whole file first, validating EVERY row;
 * if any row is bad it returns all bad rows (with file line numbers) and writes nothing. Otherwise all rows are
 * written in one transaction (an existing entry with the same prefix and effective_from is replaced; --replace
 * first removes the plan's whole deck). Export writes the same CSV format, so export → import round-trips.
 */
import { open } from 'node:fs/promises';
import { parse, CsvError } from 'csv-parse';
import type { Readable } from 'node:stream';
import type { Queryable } from '../db/tx.js';
import { deckPage, deleteDeck, insertRatePlan, ratePlanIdByName, upsertDeckEntries } from '../store/rates.js';
import { checkHeader, parseRateRow, rowKey, RATE_COLUMNS, type RateColumn, type RateRow, type RowError } from './validate.js';

export const PROGRESS_EVERY = 10_000;
const INSERT_BATCH = 1_000;
const MAX_REPORTED_ERRORS = 1_000;

export interface ImportResult {
  ok: boolean;
  plan: string;
  rows: number;
  imported: number;
  errors: RowError[]; // at most MAX_REPORTED_ERRORS
  errorCount: number;
  created: boolean; // the plan was created by this import
  replaced: number; // entries removed by --replace
}

type Progress = (message: string) => void;

interface ParsedDeck {
  rows: RateRow[];
  errors: RowError[];
  errorCount: number;
  total: number;
}

/** Parse and validate a CSV file (a path) or stream (an HTTP upload): all valid rows, or every bad row. */
export async function readRateCsv(source: string | Readable, progress: Progress = () => undefined): Promise<ParsedDeck> {
  let input: Readable;
  if (typeof source === 'string') {
    const fh = await open(source, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new RangeError(`cannot read ${source}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    input = fh.createReadStream();
  } else input = source;
  const parser = input.pipe(parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }));
  input.on('error', (e) => parser.destroy(e));
  const rows: RateRow[] = [];
  const errors: RowError[] = [];
  let errorCount = 0;
  let cols: RateColumn[] | null = null;
  const seen = new Map<string, number>();
  let total = 0;
  const addError = (e: RowError) => {
    errorCount++;
    if (errors.length < MAX_REPORTED_ERRORS) errors.push(e);
  };
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!cols) {
        try {
          cols = checkHeader(rec.record);
        } catch (e) {
          addError({ line: rec.info.lines, message: (e as Error).message.replace(/^line 1: /, '') });
          break;
        }
        continue;
      }
      total++;
      const r = parseRateRow(cols, rec.record, rec.info.lines);
      if ('error' in r) addError(r.error);
      else {
        const k = rowKey(r.row);
        const first = seen.get(k);
        if (first !== undefined) addError({ line: rec.info.lines, message: `prefix ${r.row.prefix} with effective_from ${r.row.effectiveFrom.toISOString()} repeats line ${first}` });
        else {
          seen.set(k, rec.info.lines);
          rows.push(r.row);
        }
      }
      if (total % PROGRESS_EVERY === 0) progress(`validated ${total} rows (${errorCount} bad)`);
    }
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    addError({ line: (e as CsvError & { lines?: number }).lines ?? 0, message: `malformed CSV: ${e.message}` });
  } finally {
    input.destroy(); // also after an early stop on a bad header
  }
  if (!cols && errorCount === 0) addError({ line: 1, message: `empty file: expected a header row with ${RATE_COLUMNS.join(', ')}` });
  return { rows, errors, errorCount, total };
}

export const RATE_PLAN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

interface DeckOptions {
  plan: string;
  createPlan: boolean;
  replace: boolean;
  progress?: Progress;
}

/**
 * Write a validated deck (parsed.errorCount must be 0) into the caller's transaction: the plan is created if asked,
 * --replace empties it first, rows with an existing prefix + effective_from are updated.
 */
export async function writeRateDeck(c: Queryable, parsed: ParsedDeck, opts: DeckOptions): Promise<ImportResult> {
  if (parsed.errorCount > 0) throw new RangeError('a deck with bad rows is never written');
  const progress = opts.progress ?? (() => undefined);
  const base = { plan: opts.plan, rows: parsed.total, errors: parsed.errors, errorCount: parsed.errorCount };
  let planId = await ratePlanIdByName(c, opts.plan, { forUpdate: true });
  let created = false;
  if (planId === null) {
    if (!opts.createPlan) throw new RangeError(`no rate plan ${JSON.stringify(opts.plan)} (use --create-plan to create it; over HTTP ?create=true)`);
    planId = await insertRatePlan(c, opts.plan);
    created = true;
  }
  const replaced = opts.replace ? await deleteDeck(c, planId) : 0;
  let imported = 0;
  for (let i = 0; i < parsed.rows.length; i += INSERT_BATCH) {
    const batch = parsed.rows.slice(i, i + INSERT_BATCH);
    await upsertDeckEntries(c, planId, batch);
    imported += batch.length;
    if (parsed.rows.length > PROGRESS_EVERY && (imported % PROGRESS_EVERY === 0 || imported === parsed.rows.length)) progress(`imported ${imported}/${parsed.rows.length} rows`);
  }
  return { ...base, ok: true, imported, created, replaced };
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvLine(values: string[]): string {
  return values.map(csvField).join(',') + '\n';
}

/** Write a plan's deck as CSV (header + rows ordered by prefix, effective_from) through `write`. */
export async function exportRates(db: Queryable, plan: string, write: (chunk: string) => Promise<void>): Promise<number> {
  const planId = await ratePlanIdByName(db, plan);
  if (planId === null) throw new RangeError(`no rate plan ${JSON.stringify(plan)}`);
  await write(csvLine([...RATE_COLUMNS]));
  let n = 0;
  let after: [string, Date | string] = ['', '-infinity'];
  for (;;) {
    const rows = await deckPage(db, planId, after);
    if (rows.length === 0) return n;
    let chunk = '';
    for (const r of rows) {
      chunk += csvLine([r.prefix, r.destination, r.pricePerMinute, String(r.initialIncrement), String(r.subsequentIncrement), r.connectFee,
        String(r.minimumSeconds), r.effectiveFrom.toISOString(), r.effectiveTo ? r.effectiveTo.toISOString() : '']);
    }
    await write(chunk);
    n += rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.prefix, last.effectiveFrom];
  }
}
