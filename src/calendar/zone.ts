/**
 * Wall-clock arithmetic in the service time zone (config service.timezone, Asia/Shanghai), no I/O. Business days
 * are labels 'YYYY-MM-DD' of that zone; an instant belongs to the day its wall clock shows there.
 */

interface Wall {
  y: number;
  m: number; // 1-12
  d: number;
  hh: number;
  mi: number;
  ss: number;
  ms: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function wallClock(at: Date, timeZone: string): Wall {
  const parts = formatter(timeZone).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return { y: get('year'), m: get('month'), d: get('day'), hh: get('hour'), mi: get('minute'), ss: get('second'), ms: at.getUTCMilliseconds() };
}

/** The instant whose wall clock in timeZone is w (two passes settle the zone offset, DST included). */
function fromWallClock(w: Wall, timeZone: string): Date {
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.hh, w.mi, w.ss, w.ms);
  let t = asUtc;
  for (let i = 0; i < 2; i++) {
    const seen = wallClock(new Date(t), timeZone);
    const seenUtc = Date.UTC(seen.y, seen.m - 1, seen.d, seen.hh, seen.mi, seen.ss, w.ms);
    t += asUtc - seenUtc;
  }
  return new Date(t);
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isDayLabel(s: string): boolean {
  const m = DAY.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}

function parseDay(day: string): { y: number; m: number; d: number } {
  const m = DAY.exec(day);
  if (!m || !isDayLabel(day)) throw new RangeError(`not a date YYYY-MM-DD: ${JSON.stringify(day)}`);
  return { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** The business day (YYYY-MM-DD in timeZone) of an instant. */
export function dayOf(at: Date, timeZone: string): string {
  const w = wallClock(at, timeZone);
  return `${pad(w.y, 4)}-${pad(w.m)}-${pad(w.d)}`;
}

/** 00:00 of a business day in timeZone. */
export function startOfDay(day: string, timeZone: string): Date {
  const { y, m, d } = parseDay(day);
  return fromWallClock({ y, m, d, hh: 0, mi: 0, ss: 0, ms: 0 }, timeZone);
}

/** day + n calendar days (n may be negative). */
export function addDays(day: string, n: number): string {
  const { y, m, d } = parseDay(day);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** Calendar days from a to b (b - a), both day labels. */
export function daysBetween(a: string, b: string): number {
  const x = parseDay(a);
  const y = parseDay(b);
  return Math.round((Date.UTC(y.y, y.m - 1, y.d) - Date.UTC(x.y, x.m - 1, x.d)) / 86_400_000);
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(day: string): number {
  const { y, m, d } = parseDay(day);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay();
}

/**
 * `at` plus n calendar months in the zone. A day that the target month lacks is clamped to its last day
 * (Jan 31 + 1 month = Feb 28/29), so a validity never runs past the month it is due in.
 */
export function addMonths(at: Date, n: number, timeZone: string): Date {
  if (!Number.isInteger(n)) throw new RangeError(`months must be an integer, got ${n}`);
  const w = wallClock(at, timeZone);
  const idx = w.y * 12 + (w.m - 1) + n;
  const y = Math.floor(idx / 12);
  const m = (idx % 12) + 1;
  return fromWallClock({ ...w, y, m, d: Math.min(w.d, daysInMonth(y, m)) }, timeZone);
}

/** Month label YYYY-MM of an instant in the zone. */
export function monthLabel(at: Date, timeZone: string): string {
  return dayOf(at, timeZone).slice(0, 7);
}

/** [start, end) of a month label YYYY-MM in the zone. */
export function monthRange(month: string, timeZone: string): { start: Date; end: Date } {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`not a month YYYY-MM: ${JSON.stringify(month)}`);
  const start = startOfDay(`${month}-01`, timeZone);
  return { start, end: addMonths(start, 1, timeZone) };
}
