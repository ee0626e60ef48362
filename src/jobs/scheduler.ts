/**
 * The billing scheduler inside the server (`npm start`): rent, late fees, overdue suspension, renewal reminders,
 * period end and CDR partitions run on their own, on exactly one instance at a time (a PostgreSQL lease row renewed
 * every tick), once per (job, tenant, period) (job_runs), catching up every missed period after downtime. Business
 * time comes from deps.now(), so tests drive it with a fake clock: advance it, then call tick().
 */
import type { Logger } from '../util/logger.js';
import { runLateFees, runOverdue, runPeriodEnd, runRenewalReminders, runRent } from '../services/billing.js';
import type { Actor, ServiceDeps } from '../services/context.js';
import { ensureCdrPartitions } from '../store/cdrs.js';
import { owingTenants } from '../store/receivables.js';
import { failedRuns, holdLease, lastOkPeriods, recordRun, releaseLease } from '../store/scheduler.js';
import { listTenants, type Tenant } from '../store/tenants.js';
import { duePeriods, periodOf, type Cadence, type Period } from './schedule.js';

interface JobDef {
  name: string;
  cadence: Cadence;
  perTenant: boolean;
  /** per-tenant jobs run for every tenant not terminated; 'owing' also for terminated tenants that still owe money
   * (arrears stay collectable, art. 7.2: they keep bearing late fees and overdue notices) */
  covers?: 'owing';
  /** after downtime: 'each' missed period runs in order; 'latest' only the newest (the job catches up by itself) */
  catchUp: 'each' | 'latest';
  doc: string;
  run(deps: ServiceDeps, actor: Actor, at: Date, tenant: Tenant | null): Promise<unknown>;
}

const daily = (atMinute: number): Cadence => ({ every: 'day', atMinute });
const one = (t: Tenant | null) => ({ tenant: t!.id.toString() });

export const JOBS: readonly JobDef[] = [
  { name: 'cdr-partitions', cadence: daily(1), perTenant: false, catchUp: 'latest', doc: 'CDR month partitions for this month and the next two',
    run: async (deps, _a, at) => ensureCdrPartitions(deps.pool, at).then(() => ({ ok: true })) },
  { name: 'rent', catchUp: 'each', cadence: daily(5), perTenant: true, doc: 'number rent of every rent period started (in advance)',
    run: (deps, a, at, t) => runRent(deps, a, { ...one(t), at }) },
  { name: 'late-fees', catchUp: 'each', cadence: daily(10), perTenant: true, covers: 'owing', doc: 'late fee of each overdue day (3 per mille, art. 3.2)',
    run: (deps, a, at, t) => runLateFees(deps, a, { ...one(t), at }) },
  { name: 'overdue', catchUp: 'each', cadence: daily(15), perTenant: true, covers: 'owing', doc: 'overdue notices; suspension after OVERDUE_SUSPEND_DAYS',
    run: (deps, a, at, t) => runOverdue(deps, a, { ...one(t), at }) },
  { name: 'renewal-reminder', catchUp: 'each', cadence: daily(9 * 60), perTenant: true, doc: 'renewal reminder 5 working days before the period end (art. 2.3)',
    run: (deps, a, at, t) => runRenewalReminders(deps, a, { ...one(t), at }) },
  { name: 'period-end', catchUp: 'latest', cadence: { every: 'hour' }, perTenant: true, doc: 'period end: numbers reclaimed, balance cleared, terminated (art. 7.2)',
    run: (deps, a, at, t) => runPeriodEnd(deps, a, { ...one(t), at }) },
];

const SCHEDULER_ACTOR: Actor = { kind: 'system', id: 'scheduler' };
/** While catching up, the lease is renewed (and its loss noticed) at least this often. */
const LEASE_CHECK_MS = 1000;

/** The scheduler's lease: one instance at a time runs the jobs. */
export const LEASE = 'billing-scheduler';

interface TickResult {
  leader: boolean;
  runs: { job: string; period: string; tenant: string | null; ok: boolean; error?: string }[];
}

interface Scheduler {
  tick(): Promise<TickResult>;
  start(): void;
  stop(): Promise<void>;
}

export function createScheduler(opts: { deps: ServiceDeps; instanceId: string; tickMs: number; logger: Logger; jobs?: readonly JobDef[] }): Scheduler {
  const { deps, instanceId } = opts;
  const jobs = opts.jobs ?? JOBS;
  const log = opts.logger.child({ component: 'scheduler' });
  const tz = deps.config.service.timezone;
  const ttlMs = Math.max(3 * opts.tickMs, 30_000);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<TickResult> | null = null;

  async function runOne(job: JobDef, p: Period, t: Tenant | null, out: TickResult['runs']): Promise<void> {
    const tenantId = t ? t.id.toString() : '0';
    const started = new Date();
    let detail: unknown = null;
    let error: string | undefined;
    try {
      detail = await job.run(deps, SCHEDULER_ACTOR, p.dueAt, t);
    } catch (e) {
      error = (e as Error).message;
      log.warn({ err: e, job: job.name, period: p.label, tenant: t?.code }, 'job failed; retried at the next tick');
    }
    await recordRun(deps.pool, {
      job: job.name, tenantId, period: p.label, ok: !error, startedAt: started,
      detail: JSON.stringify(error ? { error } : detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    });
    out.push({ job: job.name, period: p.label, tenant: t?.code ?? null, ok: !error, ...(error ? { error } : {}) });
  }

  async function round(): Promise<TickResult> {
    if (!(await holdLease(deps.pool, LEASE, instanceId, ttlMs))) return { leader: false, runs: [] };
    let renewedAt = Date.now();
    const out: TickResult['runs'] = [];
    const now = deps.now();
    // what ran, what failed, which tenants: read once per round (a long catch-up runs many periods in one round)
    const last = await lastOkPeriods(deps.pool);
    const failed = await failedRuns(deps.pool);
    const tenants = await listTenants(deps.pool);
    const owing = jobs.some((j) => j.covers === 'owing') ? await owingTenants(deps.pool) : new Set<bigint>();
    const covered = (job: JobDef, t: Tenant): boolean => t.status !== 'terminated' || (job.covers === 'owing' && owing.has(t.id));
    for (const job of jobs) {
      // failed runs of earlier periods first (a tenant that failed is retried even after later periods ran)
      for (const f of failed.filter((x) => x.job === job.name)) {
        const t = job.perTenant ? tenants.find((x) => x.id === f.tenantId) ?? null : null;
        if (job.perTenant && !t) continue;
        await runOne(job, periodOf(job.cadence, f.period, tz), t, out);
      }
      const due = duePeriods(job.cadence, last.get(job.name) ?? null, now, tz);
      for (const p of job.catchUp === 'latest' ? due.slice(-1) : due) {
        for (const t of job.perTenant ? tenants.filter((x) => covered(job, x)) : [null]) await runOne(job, p, t, out);
        if (Date.now() - renewedAt >= LEASE_CHECK_MS) {
          if (!(await holdLease(deps.pool, LEASE, instanceId, ttlMs))) return { leader: false, runs: out }; // lost the lease mid-way
          renewedAt = Date.now();
        }
      }
    }
    if (out.length) log.info({ runs: out.length, failed: out.filter((r) => !r.ok).length }, 'scheduled jobs ran');
    return { leader: true, runs: out };
  }

  const tick = (): Promise<TickResult> => {
    running ??= round().finally(() => (running = null));
    return running;
  };
  return {
    tick,
    start() {
      timer = setInterval(() => void tick().catch((err: unknown) => log.warn({ err }, 'scheduler tick failed')), opts.tickMs);
      timer.unref();
      void tick().catch((err: unknown) => log.warn({ err }, 'scheduler tick failed'));
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => undefined);
      await releaseLease(deps.pool, LEASE, instanceId).catch(() => undefined);
    },
  };
}
