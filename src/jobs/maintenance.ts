/**
 * Periodic work of a running instance, so what the NOC watches is live without anyone running the CLI:
 * - read-only reconciliation (ledger vs Redis + in-flight) → softswitch_reconcile_drift_* gauges (repair stays an
 *   operator decision: `softswitch reconcile --repair`);
 * - the art. 2.2 low-balance check of every active tenant → notification rows (deduplicated) and the
 *   softswitch_low_balance_tenants gauge;
 * - sending the pending notices (src/notify/notifier.ts; rows are locked, so instances never send one twice).
 * The period jobs (rent, late fees, overdue, reminders, period end, CDR partitions) are the scheduler's
 * (src/jobs/scheduler.ts), which runs on one instance at a time.
 * Every instance may run it: each step is idempotent. A failed step is logged and retried next interval; the others
 * still run.
 */
import type { ChargingRedis } from '../charging/redis.js';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import { metrics } from '../observability/metrics.js';
import { reconcile } from '../reconcile/reconcile.js';
import { deliverPending } from '../notify/notifier.js';
import { checkLowBalance } from '../tenants/notices.js';
import { loadCalendar } from '../calendar/load.js';
import { listTenants } from '../store/tenants.js';
import type { Logger } from '../util/logger.js';

export interface Maintenance {
  runOnce(): Promise<void>;
  stop(): void;
}

export function startMaintenance(deps: {
  pool: Pool; redis: ChargingRedis; config: Config; logger: Logger; intervalMs: number;
  /** business time of the low-balance check (tests: a fake clock); default the real clock */
  now?: () => Date;
}): Maintenance {
  const { pool, redis, config } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ component: 'maintenance' });
  let running: Promise<void> | null = null;

  // Steps are independent: Redis down stops the reconciliation, not the low-balance notices (PostgreSQL only).
  const steps: [string, () => Promise<void>][] = [
    ['reconcile', async () => {
      const report = await reconcile({ pool, redis, repair: false, logger: log });
      if (report.driftTenants > 0) log.warn({ driftTenants: report.driftTenants, driftFen: report.driftFen.toString() }, 'ledger/Redis drift detected');
    }],
    ['low-balance', async () => {
      const tenants = await listTenants(pool, { status: 'active' });
      const calendar = await loadCalendar(pool, config.service.timezone);
      let low = 0;
      for (const t of tenants) {
        const r = await checkLowBalance(pool, t.id, { percent: config.charging.lowBalancePercent, at: now(), calendar });
        if (r.reasons.length > 0) low += 1;
        if (r.notified.length > 0) log.info({ tenant: t.id.toString(), reasons: r.reasons, channels: r.notified }, 'low-balance notice written');
      }
      metrics.lowBalanceTenants.set(low);
    }],
    ['notify', async () => {
      const notices = await deliverPending({ pool, logger: log, config }); // retry backoff is real time, not business time
      if (notices.sent + notices.retry + notices.failed + notices.no_provider > 0) log.info(notices, 'tenant notices handled');
    }],
  ];

  async function round(): Promise<void> {
    for (const [name, step] of steps) {
      await step().catch((err: unknown) => log.warn({ err, step: name }, 'maintenance step failed; retrying next interval'));
    }
  }

  const runOnce = (): Promise<void> => {
    running ??= round().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void runOnce(), deps.intervalMs);
  timer.unref();
  void runOnce();
  return { runOnce, stop: () => clearInterval(timer) };
}
