-- 012_scheduler (issue 10): the billing scheduler inside the server (src/jobs/scheduler.ts).
-- job_runs: one row per (job, tenant, period) that ran; tenant_id 0 = a job over no single tenant (CDR partitions).
-- A row with status 'ok' is never run again (idempotency); 'failed' is retried at the next tick.
create table job_runs (
  job          text not null,
  tenant_id    bigint not null,
  period       text not null,            -- YYYY-MM-DD (daily) or YYYY-MM-DDTHH (hourly), service time zone
  status       text not null check (status in ('ok', 'failed')),
  started_at   timestamptz not null,
  finished_at  timestamptz not null,
  attempts     integer not null default 1,
  detail       jsonb,
  primary key (job, tenant_id, period)
);
create index job_runs_job_period on job_runs (job, period desc);

-- At most one instance runs the scheduler: it holds this lease (renewed every tick, expires if the holder dies).
create table scheduler_lease (
  name        text primary key,
  holder      text not null,
  expires_at  timestamptz not null
);
