/** SQL of the working-day calendar (calendar_years, calendar_days; migration 010). Parsing and rules: src/calendar. */
import type { PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';

interface StoredYear {
  year: number;
  status: 'official' | 'unconfirmed';
  source: string;
  announcedOn: string | null;
  note: string;
}

interface StoredDay {
  date: string; // YYYY-MM-DD
  working: boolean;
  name: string;
}

const CALENDAR_LOCK = 7_201_771_010;

/** One import at a time (a transaction-scoped lock, held until the caller commits). */
export async function lockCalendar(c: PoolClient): Promise<void> {
  await c.query('select pg_advisory_xact_lock($1)', [CALENDAR_LOCK]);
}

/** Replace the stored data of one year (the caller's transaction). */
export async function replaceYear(c: Queryable, y: StoredYear, days: StoredDay[]): Promise<void> {
  await c.query('delete from calendar_years where year = $1', [y.year]);
  await c.query('insert into calendar_years (year, status, source, announced_on, note) values ($1, $2, $3, $4, $5)', [y.year, y.status, y.source, y.announcedOn, y.note]);
  if (days.length) {
    await c.query(
      `insert into calendar_days (day, year, working, name) select d::date, $1, w, n from unnest($2::text[], $3::boolean[], $4::text[]) as t(d, w, n)`,
      [y.year, days.map((d) => d.date), days.map((d) => d.working), days.map((d) => d.name)],
    );
  }
}

/** Every stored year (status and source) and every stored day (working or not). */
export async function calendarRows(db: Queryable): Promise<{ years: { year: number; status: StoredYear['status']; source: string }[]; days: { date: string; working: boolean }[] }> {
  const years = (await db.query<{ year: number; status: StoredYear['status']; source: string }>('select year, status, source from calendar_years')).rows;
  const days = (await db.query<{ day: string; working: boolean }>(`select to_char(day, 'YYYY-MM-DD') as day, working from calendar_days`)).rows;
  return { years, days: days.map((d) => ({ date: d.day, working: d.working })) };
}

export async function storedYears(c: Queryable): Promise<Set<number>> {
  return new Set((await c.query<{ year: number }>('select year from calendar_years')).rows.map((r) => r.year));
}

/** One year as stored with its days, or null when it was never imported. */
export async function storedYear(db: Queryable, year: number): Promise<(StoredYear & { days: StoredDay[] }) | null> {
  const y = (await db.query<{ status: StoredYear['status']; source: string; announced_on: string | null; note: string }>(
    `select status, source, to_char(announced_on, 'YYYY-MM-DD') as announced_on, note from calendar_years where year = $1`, [year],
  )).rows[0];
  const days = (await db.query<StoredDay>(
    `select to_char(day, 'YYYY-MM-DD') as date, working, name from calendar_days where year = $1 order by day`, [year],
  )).rows;
  return y ? { year, status: y.status, source: y.source, announcedOn: y.announced_on, note: y.note, days } : null;
}
