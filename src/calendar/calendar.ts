/**
 * China's working-day calendar (no I/O): Monday-Friday are working days, except the public holidays of the State
 * Council's yearly notice, plus its make-up working days (调休上班, often a Saturday or Sunday). Every "working
 * days" rule of the contract uses it: top-up term and payment term (3 working days, art. 2.2 and 3.2), renewal
 * (5 working days before the period end, art. 2.3), fault reports (1 working day, art. 5.2) and the outage of more
 * than 15 consecutive working days (art. 5.3).
 *
 * A year whose notice is not imported (or is marked unconfirmed) counts Monday-Friday only; `coverage()` says so,
 * and `softswitch calendar show` / `jobs status` print it, so nobody mistakes a guess for the official schedule.
 */
import { addDays, dayOf, isDayLabel, startOfDay, weekday } from './zone.js';

type YearStatus = 'official' | 'unconfirmed';

/** One year's data as in config/calendar/<year>.json and in the calendar tables. */
export interface CalendarYear {
  year: number;
  status: YearStatus;
  source: string; // the announcement: title and where it was published
  announcedOn: string | null; // YYYY-MM-DD of the announcement
  note: string;
  holidays: { name: string; from: string; to: string }[]; // inclusive ranges of days off
  workdays: { name: string; date: string }[]; // make-up working days
}

export class CalendarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalendarError';
  }
}

/** Validate a parsed calendar file; throws CalendarError naming the bad field. */
export function parseCalendarYear(raw: unknown, what = 'calendar'): CalendarYear {
  const bad = (msg: string): never => {
    throw new CalendarError(`${what}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('must be a JSON object');
  const o = raw as Record<string, unknown>;
  const year = o.year;
  if (typeof year !== 'number' || !Number.isInteger(year) || year < 2000 || year > 2100) bad('year must be an integer 2000-2100');
  const y = year as number;
  if (o.status !== 'official' && o.status !== 'unconfirmed') bad('status must be "official" or "unconfirmed"');
  if (typeof o.source !== 'string' || o.source.trim().length === 0) bad('source must name the announcement');
  if (o.announcedOn !== null && (typeof o.announcedOn !== 'string' || !isDayLabel(o.announcedOn))) bad('announcedOn must be YYYY-MM-DD or null');
  const inYear = (d: unknown, field: string): string => {
    if (typeof d !== 'string' || !isDayLabel(d)) bad(`${field} must be a date YYYY-MM-DD, got ${JSON.stringify(d)}`);
    // a notice may move days of the first days of the next year or the last of the previous one: allow +-1 year
    const dy = Number((d as string).slice(0, 4));
    if (Math.abs(dy - y) > 1) bad(`${field} ${String(d)} is not near ${y}`);
    return d as string;
  };
  if (!Array.isArray(o.holidays)) bad('holidays must be an array');
  if (!Array.isArray(o.workdays)) bad('workdays must be an array');
  const holidays = (o.holidays as unknown[]).map((h, i) => {
    const r = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
    if (typeof r.name !== 'string' || !r.name) bad(`holidays[${i}].name is required`);
    const from = inYear(r.from, `holidays[${i}].from`);
    const to = inYear(r.to, `holidays[${i}].to`);
    if (to < from) bad(`holidays[${i}]: to ${to} is before from ${from}`);
    return { name: r.name as string, from, to };
  });
  const workdays = (o.workdays as unknown[]).map((w, i) => {
    const r = (typeof w === 'object' && w !== null ? w : {}) as Record<string, unknown>;
    if (typeof r.name !== 'string' || !r.name) bad(`workdays[${i}].name is required`);
    return { name: r.name as string, date: inYear(r.date, `workdays[${i}].date`) };
  });
  if (o.status === 'unconfirmed' && (holidays.length || workdays.length)) bad('an unconfirmed year lists no days (no guessing)');
  const off = new Set(holidays.flatMap((h) => expand(h.from, h.to)));
  for (const w of workdays) if (off.has(w.date)) bad(`${w.date} is both a holiday and a make-up working day`);
  return { year: y, status: o.status as YearStatus, source: (o.source as string).trim(), announcedOn: (o.announcedOn as string | null) ?? null, note: typeof o.note === 'string' ? o.note : '', holidays, workdays };
}

function expand(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** Day overrides of a year: date → working (true = make-up working day, false = holiday) with its name. */
export function yearDays(y: CalendarYear): { date: string; working: boolean; name: string }[] {
  return [
    ...y.holidays.flatMap((h) => expand(h.from, h.to).map((date) => ({ date, working: false, name: h.name }))),
    ...y.workdays.map((w) => ({ date: w.date, working: true, name: w.name })),
  ].sort((a, b) => (a.date < b.date ? -1 : 1));
}

export interface Coverage {
  year: number;
  status: YearStatus | 'missing';
  source: string | null;
}

export class WorkingCalendar {
  private readonly days = new Map<string, boolean>();
  private readonly years = new Map<number, CalendarYear['status'] | 'official'>();
  private readonly sources = new Map<number, string>();

  constructor(
    years: Pick<CalendarYear, 'year' | 'status' | 'source'>[],
    days: { date: string; working: boolean }[],
    readonly timeZone: string,
  ) {
    for (const y of years) {
      this.years.set(y.year, y.status);
      this.sources.set(y.year, y.source);
    }
    for (const d of days) this.days.set(d.date, d.working);
  }

  static fromYears(years: CalendarYear[], timeZone: string): WorkingCalendar {
    return new WorkingCalendar(years, years.flatMap(yearDays), timeZone);
  }

  /** What the calendar knows of a year: official notice, unconfirmed, or nothing (both: Monday-Friday only). */
  coverage(year: number): Coverage {
    const s = this.years.get(year);
    return { year, status: s ?? 'missing', source: this.sources.get(year) ?? null };
  }

  isWorkingDay(day: string): boolean {
    const o = this.days.get(day);
    if (o !== undefined) return o;
    const w = weekday(day);
    return w !== 0 && w !== 6;
  }

  /** The n-th working day after `day` (n >= 1; `day` itself never counts). */
  nthWorkingDayAfter(day: string, n: number): string {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
    let d = day;
    for (let left = n; left > 0; ) {
      d = addDays(d, 1);
      if (this.isWorkingDay(d)) left--;
    }
    return d;
  }

  /** The n-th working day before `day` (n >= 1; `day` itself never counts). */
  nthWorkingDayBefore(day: string, n: number): string {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
    let d = day;
    for (let left = n; left > 0; ) {
      d = addDays(d, -1);
      if (this.isWorkingDay(d)) left--;
    }
    return d;
  }

  /**
   * A term of n working days counted from the business day of `at` (that day not counted): it ends at 24:00 of the
   * n-th working day after it, i.e. the instant returned (00:00 of the next day). "Within 3 working days of signing"
   * (art. 3.2) on a Monday ends at the end of Thursday, or later when a holiday falls in between.
   */
  termEnd(at: Date, n: number): Date {
    return startOfDay(addDays(this.nthWorkingDayAfter(dayOf(at, this.timeZone), n), 1), this.timeZone);
  }

  /** Working days in [fromDay, toDay) (0 when toDay <= fromDay). */
  workingDaysBetween(fromDay: string, toDay: string): number {
    let n = 0;
    for (let d = fromDay; d < toDay; d = addDays(d, 1)) if (this.isWorkingDay(d)) n++;
    return n;
  }
}
