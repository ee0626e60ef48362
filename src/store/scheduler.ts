/** SQL of the billing scheduler: its lease (scheduler_lease, one holder at a time) and the runs (job_runs). */
import type { Queryable } from '../db/tx.js';

/** Take or renew the lease `name`; true when `holder` holds it now (until now + ttl, PostgreSQL's clock). */
export async function holdLease(db: Queryable, name: string, holder: string, ttlMs: number): Promise<boolean> {
  const r = await db.query<{ holder: string }>(
    `insert into scheduler_lease (name, holder, expires_at) values ($1, $2, now() + $3 * interval '1 millisecond')
     on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
       where scheduler_lease.holder = excluded.holder or scheduler_lease.expires_at < now()
     returning holder`,
    [name, holder, ttlMs],
  );
  return r.rows[0]?.holder === holder;
}

export async function releaseLease(db: Queryable, name: string, holder: string): Promise<void> {
  await db.query('delete from scheduler_lease where name = $1 and holder = $2', [name, holder]);
}

/** Who holds the lease `name` now, or null. */
export async function leaseHolder(db: Queryable, name: string): Promise<{ holder: string; expiresAt: Date } | null> {
  const r = (await db.query<{ holder: string; expires_at: Date }>(`select holder, expires_at from scheduler_lease where name = $1 and expires_at > now()`, [name])).rows[0];
  return r ? { holder: r.holder, expiresAt: r.expires_at } : null;
}

/** Record how a run of (job, tenant, period) ended; a run again (a retry) counts another attempt. */
export async function recordRun(
  db: Queryable, r: { job: string; tenantId: string; period: string; ok: boolean; startedAt: Date; detail: string },
): Promise<void> {
  await db.query(
    `insert into job_runs (job, tenant_id, period, status, started_at, finished_at, detail) values ($1, $2, $3, $4, $5, now(), $6)
     on conflict (job, tenant_id, period) do update set status = excluded.status, finished_at = now(), attempts = job_runs.attempts + 1, detail = excluded.detail`,
    [r.job, r.tenantId, r.period, r.ok ? 'ok' : 'failed', r.startedAt, r.detail],
  );
}

/** The latest period each job ran ok. */
export async function lastOkPeriods(db: Queryable): Promise<Map<string, string>> {
  return new Map((await db.query<{ job: string; p: string }>(`select job, max(period) as p from job_runs where status = 'ok' group by job`)).rows.map((r) => [r.job, r.p]));
}

/** Runs that failed (retried at the next tick), oldest period first. */
export async function failedRuns(db: Queryable): Promise<{ job: string; tenantId: bigint; period: string }[]> {
  return (await db.query<{ job: string; tenant_id: bigint; period: string }>(`select job, tenant_id, period from job_runs where status = 'failed' order by period`)).rows
    .map((r) => ({ job: r.job, tenantId: r.tenant_id, period: r.period }));
}

/** The latest period a job ran ok: when it finished, for how many tenants, how many of those failed; null: never. */
export async function lastRun(db: Queryable, job: string): Promise<{ period: string; finishedAt: Date; tenants: number; failed: number } | null> {
  const r = (await db.query<{ period: string; finished: Date; n: bigint; failed: bigint }>(
    `select period, max(finished_at) as finished, count(*)::int8 as n, count(*) filter (where status = 'failed')::int8 as failed
       from job_runs where job = $1 and period = (select max(period) from job_runs where job = $1 and status = 'ok') group by period`,
    [job],
  )).rows[0];
  return r ? { period: r.period, finishedAt: r.finished, tenants: Number(r.n), failed: Number(r.failed) } : null;
}

export async function failedRunCount(db: Queryable, job: string): Promise<number> {
  return Number((await db.query<{ n: bigint }>(`select count(*)::int8 as n from job_runs where job = $1 and status = 'failed'`, [job])).rows[0]!.n);
}
