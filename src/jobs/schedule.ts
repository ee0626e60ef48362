/**
 * When the billing jobs are due (no I/O). Each job has a cadence in the service time zone: daily at a wall-clock
 * time, or hourly. A period is named by its label (YYYY-MM-DD or YYYY-MM-DDTHH) and runs once; after downtime every
 * missed period runs, oldest first (the jobs themselves also catch up, so the order only keeps notices in order).
 */
import { addDays, dayOf, startOfDay, wallClock } from '../calendar/zone.js';

export type Cadence = { every: 'day'; atMinute: number } | { every: 'hour' };

export interface Period {
  label: string;
  dueAt: Date; // when it becomes due; jobs run with this as their business time
}

function hourLabel(day: string, h: number): string {
  return `${day}T${String(h).padStart(2, '0')}`;
}

/** The period of a cadence that is due latest at or before `at` (null if none yet on that day/hour). */
export function latestDue(c: Cadence, at: Date, timeZone: string): Period {
  const day = dayOf(at, timeZone);
  if (c.every === 'hour') {
    const h = wallClock(at, timeZone).hh;
    return { label: hourLabel(day, h), dueAt: new Date(startOfDay(day, timeZone).getTime() + h * 3_600_000) };
  }
  const today = new Date(startOfDay(day, timeZone).getTime() + c.atMinute * 60_000);
  if (today.getTime() <= at.getTime()) return { label: day, dueAt: today };
  const y = addDays(day, -1);
  return { label: y, dueAt: new Date(startOfDay(y, timeZone).getTime() + c.atMinute * 60_000) };
}

export function nextPeriod(c: Cadence, p: Period, timeZone: string): Period {
  if (c.every === 'hour') {
    const dueAt = new Date(p.dueAt.getTime() + 3_600_000);
    return { label: hourLabel(dayOf(dueAt, timeZone), wallClock(dueAt, timeZone).hh), dueAt };
  }
  const d = addDays(p.label, 1);
  return { label: d, dueAt: new Date(startOfDay(d, timeZone).getTime() + c.atMinute * 60_000) };
}

/** Parse a period label back (for catch-up from the last run). */
export function periodOf(c: Cadence, label: string, timeZone: string): Period {
  if (c.every === 'hour') {
    const [day, h] = label.split('T');
    return { label, dueAt: new Date(startOfDay(day!, timeZone).getTime() + Number(h) * 3_600_000) };
  }
  return { label, dueAt: new Date(startOfDay(label, timeZone).getTime() + c.atMinute * 60_000) };
}

/**
 * The periods to run at `at`: after `last` (the newest period that ran) up to the latest due one, oldest first, at
 * most `max` (a very long outage catches up over several ticks). With no run yet: only the latest due period.
 */
export function duePeriods(c: Cadence, last: string | null, at: Date, timeZone: string, max = 400): Period[] {
  const latest = latestDue(c, at, timeZone);
  if (last === null) return [latest];
  const out: Period[] = [];
  for (let p = nextPeriod(c, periodOf(c, last, timeZone), timeZone); p.dueAt.getTime() <= latest.dueAt.getTime() && out.length < max; p = nextPeriod(c, p, timeZone)) out.push(p);
  return out;
}
