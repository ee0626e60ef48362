/** `softswitch jobs status`: the scheduler's jobs with their last and next run, the lease holder, calendar gaps. */
import { dayOf } from '../calendar/zone.js';
import { duePeriods, latestDue, nextPeriod } from '../jobs/schedule.js';
import { JOBS } from '../jobs/scheduler.js';
import { calendarOf } from './billing.js';
import type { Actor, ServiceDeps } from './context.js';

export interface JobStatus {
  job: string;
  doc: string;
  cadence: string;
  last: { period: string; finishedAt: Date; tenants: number; failed: number } | null;
  failedPending: number; // runs that failed and will be retried
  next: { period: string; dueAt: Date; catchUp: number }; // catchUp: periods due now that have not run
}

export interface JobsStatus {
  now: Date;
  leaseHolder: { holder: string; expiresAt: Date } | null;
  jobs: JobStatus[];
  calendarWarnings: string[];
}

export async function jobsStatus(deps: ServiceDeps, _actor: Actor): Promise<JobsStatus> {
  const now = deps.now();
  const tz = deps.config.service.timezone;
  const lease = (await deps.pool.query<{ holder: string; expires_at: Date }>(`select holder, expires_at from scheduler_lease where name = 'billing-scheduler' and expires_at > now()`)).rows[0];
  const jobs: JobStatus[] = [];
  for (const j of JOBS) {
    const last = (await deps.pool.query<{ period: string; finished: Date; n: bigint; failed: bigint }>(
      `select period, max(finished_at) as finished, count(*)::int8 as n, count(*) filter (where status = 'failed')::int8 as failed
         from job_runs where job = $1 and period = (select max(period) from job_runs where job = $1 and status = 'ok') group by period`,
      [j.name],
    )).rows[0];
    const failedPending = Number((await deps.pool.query<{ n: bigint }>(`select count(*)::int8 as n from job_runs where job = $1 and status = 'failed'`, [j.name])).rows[0]!.n);
    const due = duePeriods(j.cadence, last?.period ?? null, now, tz);
    const next = last ? (due[0] ?? nextPeriod(j.cadence, latestDue(j.cadence, now, tz), tz)) : latestDue(j.cadence, now, tz);
    jobs.push({
      job: j.name, doc: j.doc,
      cadence: j.cadence.every === 'hour' ? 'hourly' : `daily ${String(Math.floor(j.cadence.atMinute / 60)).padStart(2, '0')}:${String(j.cadence.atMinute % 60).padStart(2, '0')} ${tz}`,
      last: last ? { period: last.period, finishedAt: last.finished, tenants: Number(last.n), failed: Number(last.failed) } : null,
      failedPending,
      next: { period: next.label, dueAt: next.dueAt, catchUp: last ? due.length : 1 },
    });
  }
  const cal = await calendarOf(deps);
  const year = Number(dayOf(now, tz).slice(0, 4));
  const calendarWarnings = [year, year + 1].map((y) => cal.coverage(y)).filter((c) => c.status !== 'official')
    .map((c) => `${c.year}: ${c.status === 'missing' ? 'not imported' : 'unconfirmed'} - working days are Monday-Friday only until the State Council notice is imported`);
  return { now, leaseHolder: lease ? { holder: lease.holder, expiresAt: lease.expires_at } : null, jobs, calendarWarnings };
}
