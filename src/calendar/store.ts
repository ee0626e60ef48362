/**
 * The working-day calendar in PostgreSQL (calendar_years, calendar_days; migration 010) and its data files
 * (config/calendar/<year>.json). `softswitch calendar import` loads the files; every rule that counts working days
 * reads the calendar from the database, so all instances and the CLI agree.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable } from '../ledger/ledger.js';
import { inTransaction } from '../tenants/tx.js';
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
    await c.query('select pg_advisory_xact_lock($1)', [CALENDAR_LOCK]);
    return importLocked(c, years);
  });
}

const CALENDAR_LOCK = 7_201_771_010;

async function importLocked(db: Queryable, years: CalendarYear[]): Promise<{ year: number; status: string; days: number }[]> {
  const out = [];
  for (const y of years) {
    await db.query('delete from calendar_years where year = $1', [y.year]);
    await db.query('insert into calendar_years (year, status, source, announced_on, note) values ($1, $2, $3, $4, $5)', [y.year, y.status, y.source, y.announcedOn, y.note]);
    const days = yearDays(y);
    if (days.length) {
      await db.query(
        `insert into calendar_days (day, year, working, name) select d::date, $1, w, n from unnest($2::text[], $3::boolean[], $4::text[]) as t(d, w, n)`,
        [y.year, days.map((d) => d.date), days.map((d) => d.working), days.map((d) => d.name)],
      );
    }
    out.push({ year: y.year, status: y.status, days: days.length });
  }
  return out;
}

/** The calendar as stored (years never imported count Monday-Friday; coverage() says which). */
export async function loadCalendar(db: Queryable, timeZone: string): Promise<WorkingCalendar> {
  const years = (await db.query<{ year: number; status: 'official' | 'unconfirmed'; source: string }>('select year, status, source from calendar_years')).rows;
  const days = (await db.query<{ day: string; working: boolean }>(`select to_char(day, 'YYYY-MM-DD') as day, working from calendar_days`)).rows;
  return new WorkingCalendar(years, days.map((d) => ({ date: d.day, working: d.working })), timeZone);
}

/** Import the bundled files for years the database does not have yet (start-up; never overwrites an import). */
export async function importMissingYears(db: Queryable, dir = CALENDAR_DIR): Promise<number[]> {
  const files = readCalendarFiles(dir);
  return inTransaction(db, async (c) => {
    await c.query('select pg_advisory_xact_lock($1)', [CALENDAR_LOCK]);
    const have = new Set((await c.query<{ year: number }>('select year from calendar_years')).rows.map((r) => r.year));
    const missing = files.filter((y) => !have.has(y.year));
    if (missing.length) await importLocked(c, missing);
    return missing.map((y) => y.year);
  });
}
