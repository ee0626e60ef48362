/** The working-day calendar operations: import the data files, show a year (src/calendar). */
import { statSync } from 'node:fs';
import { withTransaction } from '../db/tx.js';
import type { CalendarYear, Coverage } from '../calendar/calendar.js';
import { CALENDAR_DIR, importCalendarYears, readCalendarFile, readCalendarFiles } from '../calendar/load.js';
import { recordAudit } from '../store/audit.js';
import { storedYear } from '../store/calendar.js';
import { RuleError } from '../tenants/rules.js';
import type { Actor, ServiceDeps } from './context.js';

/** `softswitch calendar import [path]`: validate every file, then replace those years (one transaction, audited). */
export async function importCalendar(deps: ServiceDeps, actor: Actor, input: { path?: string; years?: CalendarYear[] }): Promise<{ year: number; status: string; days: number }[]> {
  if (actor.kind === 'tenant') throw new RuleError('importing the calendar is an operator operation');
  const path = input.path ?? CALENDAR_DIR;
  let years = input.years;
  if (!years) {
    let dir: boolean;
    try {
      dir = statSync(path).isDirectory();
    } catch {
      throw new RuleError(`no such file or folder: ${path}`);
    }
    years = dir ? readCalendarFiles(path) : [readCalendarFile(path)];
  }
  if (years.length === 0) throw new RuleError(`no <year>.json calendar files in ${path}`);
  const ys = years;
  return withTransaction(deps.pool, async (c) => {
    const r = await importCalendarYears(c, ys);
    await recordAudit(c, { actor, action: 'calendar.import', targetType: 'calendar', targetId: ys.map((y) => y.year).join(','), detail: r });
    return r;
  });
}

interface CalendarView extends Coverage {
  announcedOn: string | null;
  note: string;
  days: { date: string; working: boolean; name: string }[];
}

export async function showCalendar(deps: ServiceDeps, _actor: Actor, input: { year: number }): Promise<CalendarView> {
  const y = await storedYear(deps.pool, input.year);
  if (!y) return { year: input.year, status: 'missing', source: null, announcedOn: null, note: '', days: [] };
  return { year: input.year, status: y.status, source: y.source, announcedOn: y.announcedOn, note: y.note, days: y.days };
}
