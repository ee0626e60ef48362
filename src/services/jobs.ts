/** `softswitch jobs status`: the scheduler's jobs with their last and next run, the lease holder, calendar gaps. */
import { dayOf } from '../calendar/zone.js';
import { duePeriods, latestDue, nextPeriod } from '../jobs/schedule.js';
import { JOBS, LEASE } from '../jobs/scheduler.js';
import { failedRunCount, lastRun, leaseHolder } from '../store/scheduler.js';
import { calendarOf } from './common.js';
import type { Actor, ServiceDeps } from './context.js';

interface JobStatus {
  job: string;
  doc: string;
  cadence: string;
  last: { period: string; finishedAt: Date; tenants: number; failed: number } | null;
  failedPending: number; // runs that failed and will be retried
  next: { period: string; dueAt: Date; catchUp: number }; // catchUp: periods due now that have not run
}

interface JobsStatus {
  now: Date;
  leaseHolder: { holder: string; expiresAt: Date } | null;
  jobs: JobStatus[];
  calendarWarnings: string[];
}

export async function jobsStatus(deps: ServiceDeps, _actor: Actor): Promise<JobsStatus> {
  const now = deps.now();
  const tz = deps.config.service.timezone;
  const lease = await leaseHolder(deps.pool, LEASE);
  const jobs: JobStatus[] = [];
  for (const j of JOBS) {
    const last = await lastRun(deps.pool, j.name);
    const failedPending = await failedRunCount(deps.pool, j.name);
    const due = duePeriods(j.cadence, last?.period ?? null, now, tz);
    const next = last ? (due[0] ?? nextPeriod(j.cadence, latestDue(j.cadence, now, tz), tz)) : latestDue(j.cadence, now, tz);
    jobs.push({
      job: j.name, doc: j.doc,
      cadence: j.cadence.every === 'hour' ? 'hourly' : `daily ${String(Math.floor(j.cadence.atMinute / 60)).padStart(2, '0')}:${String(j.cadence.atMinute % 60).padStart(2, '0')} ${tz}`,
      last,
      failedPending,
      next: { period: next.label, dueAt: next.dueAt, catchUp: last ? due.length : 1 },
    });
  }
  const cal = await calendarOf(deps);
  const year = Number(dayOf(now, tz).slice(0, 4));
  const calendarWarnings = [year, year + 1].map((y) => cal.coverage(y)).filter((c) => c.status !== 'official')
    .map((c) => `${c.year}: ${c.status === 'missing' ? 'not imported' : 'unconfirmed'} - working days are Monday-Friday only until the State Council notice is imported`);
  return { now, leaseHolder: lease, jobs, calendarWarnings };
}
