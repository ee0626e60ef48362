/**
 * The working-day calendar's data files (config/calendar/<year>.json) and its import into PostgreSQL (SQL in
 * src/store/calendar.ts). `softswitch calendar import` loads the files; every rule that counts working days reads
 * the calendar from the database, so all instances and the CLI agree.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inTransaction, type Queryable } from '../db/tx.js';
import { calendarRows, lockCalendar, replaceYear, storedYears } from '../store/calendar.js';
import { projectPath } from '../util/paths.js';
import { CalendarError, parseCalendarYear, WorkingCalendar, yearDays, type CalendarYear } from './calendar.js';

export const CALENDAR_DIR = projectPath('config', 'calendar');

/** Every <year>.json of a folder, validated (CalendarError names the file and field). */
export function readCalendarFiles(dir = CALENDAR_DIR): CalendarYear[] {
  const files = readdirSync(dir).filter((f) => /^\d{4}\.json$/.test(f)).sort();
  return files.map((f) => readCalendarFile(join(dir, f)));
}

export function readCalendarFile(path: string): CalendarYear {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CalendarError(`${path}: ${(e as Error).message}`);
  }
  const y = parseCalendarYear(raw, path);
  const name = path.split('/').pop()!;
  if (name !== `${y.year}.json`) throw new CalendarError(`${path}: holds year ${y.year}; name it ${y.year}.json`);
  return y;
}

/** Replace the stored data of each given year (in the caller's transaction when given a client). */
export async function importCalendarYears(db: Queryable, years: CalendarYear[]): Promise<{ year: number; status: string; days: number }[]> {
  return inTransaction(db, async (c) => {
    await lockCalendar(c);
    return importLocked(c, years);
  });
}

async function importLocked(db: Queryable, years: CalendarYear[]): Promise<{ year: number; status: string; days: number }[]> {
  const out = [];
  for (const y of years) {
    const days = yearDays(y);
    await replaceYear(db, y, days);
    out.push({ year: y.year, status: y.status, days: days.length });
  }
  return out;
}

/** The calendar as stored (years never imported count Monday-Friday; coverage() says which). */
export async function loadCalendar(db: Queryable, timeZone: string): Promise<WorkingCalendar> {
  const { years, days } = await calendarRows(db);
  return new WorkingCalendar(years, days, timeZone);
}

/** Import the bundled files for years the database does not have yet (start-up; never overwrites an import). */
export async function importMissingYears(db: Queryable, dir = CALENDAR_DIR): Promise<number[]> {
  const files = readCalendarFiles(dir);
  return inTransaction(db, async (c) => {
    await lockCalendar(c);
    const have = await storedYears(c);
    const missing = files.filter((y) => !have.has(y.year));
    if (missing.length) await importLocked(c, missing);
    return missing.map((y) => y.year);
  });
}
