/**
 * `softswitch reconcile`: compare, per tenant and bucket, the PostgreSQL ledger with the Redis balance plus what is
 * still in flight (live reservations, outbox events not yet written), report every difference, and with repair
 * set Redis to the ledger truth — atomically, never taking back money a live call holds (that tenant is deferred).
 * Publishes the drift as metrics reconcileDrift / reconcileDriftTenants.
 */
import type { Pool } from '../db/pool.js';
import { controlChannel } from '../charging/keys.js';
import type { ChargingRedis } from '../charging/redis.js';
import { inconsistentAccounts } from '../store/ledger.js';
import { listTenants, tenantById } from '../store/tenants.js';
import { metrics } from '../observability/metrics.js';
import { deadLetterTenants, outboxStats, withOutboxCommands } from '../outbox/stream.js';
import type { Logger } from '../util/logger.js';
import { absDrift, compareTenant, type TenantComparison } from './compare.js';
import { repairTenant, takeSnapshot, withReconcileCommands, MAX_SNAPSHOT_SPAN_MS, type TenantSnapshot } from './snapshot.js';

type RepairResult = 'repaired' | 'deferred' | 'gave_up' | 'refused';

export interface TenantReport extends TenantComparison {
  driftFen: bigint; // sum of |drift| over the buckets
  repair?: RepairResult;
  detail?: string;
}

export interface Report {
  at: Date;
  repair: boolean;
  tenants: TenantReport[];
  checked: number;
  driftTenants: number; // tenants whose Redis differed from the ledger (before any repair)
  driftFen: bigint; // Σ|drift| of those tenants
  repaired: number;
  deferred: number;
  /** drifted tenants not repaired because dead letters name them (their money is in Redis, not in the ledger) */
  refused: number;
  unstable: number;
  notLoaded: number;
  outbox: { backlog: number; deadLetters: number; unreadable: string[] };
  /** ledger accounts whose posted totals differ from the sum of their transfers (must be none) */
  ledgerInconsistent: { accountId: bigint; code: string; postedFen: bigint; transfersFen: bigint }[];
}

/**
 * Beyond this many events waiting in the outbox (PostgreSQL was down and the consumers are catching up), a
 * reconciliation is postponed: every snapshot would scan the whole backlog inside Redis and hold up calls, and the
 * answer would only be "in flight" anyway.
 */
export const MAX_BACKLOG = 10_000;

export class ReconcilePostponed extends Error {
  constructor(readonly backlog: number) {
    super(`reconciliation postponed: ${backlog} events wait in the outbox (limit ${MAX_BACKLOG}); run it again once the consumers have drained it`);
    this.name = 'ReconcilePostponed';
  }
}

const CHUNK = 200; // tenants per Redis snapshot: bounds how long one script runs
const ATTEMPTS = 3; // a tenant whose top-up is in flight is measured again

export async function reconcile(deps: { pool: Pool; redis: ChargingRedis; tenantId?: string; repair: boolean; logger?: Logger }): Promise<Report> {
  const { pool, repair } = deps;
  const redis = withReconcileCommands(deps.redis);
  const outbox = withOutboxCommands(deps.redis, deps.redis.layout);
  const log = deps.logger?.child({ component: 'reconcile' });
  let tenantIds: string[];
  if (deps.tenantId !== undefined) {
    if (!/^[1-9][0-9]{0,18}$/.test(deps.tenantId)) throw new RangeError(`tenant must be a decimal tenant id, got ${JSON.stringify(deps.tenantId)}`);
    if (!(await tenantById(pool, BigInt(deps.tenantId)))) throw new RangeError(`tenant ${deps.tenantId} does not exist`);
    tenantIds = [deps.tenantId];
  } else {
    tenantIds = (await listTenants(pool)).map((t) => t.id.toString());
  }

  const before = await outboxStats(outbox);
  if (before.backlog > MAX_BACKLOG) throw new ReconcilePostponed(before.backlog);
  // a dead-lettered event was charged in Redis but never reached the ledger: "repairing" Redis to the ledger would
  // give that money back (or take it twice once the letter is replayed), so such tenants are not repaired
  const dead = repair && before.deadLetters > 0 ? await deadLetterTenants(outbox) : { byTenant: new Map<string, number>(), unknown: 0 };
  const refusal = (tenantId: string): string | undefined => {
    const n = dead.byTenant.get(tenantId) ?? 0;
    if (n > 0) return `not repaired: ${n} dead letter(s) name this tenant; replay or resolve them first (softswitch outbox dead list)`;
    if (dead.unknown > 0) return `not repaired: ${dead.unknown} dead letter(s) name no readable tenant and could be this tenant's; resolve them first (softswitch outbox dead list)`;
    return undefined;
  };

  const reports = new Map<string, TenantReport>();
  const unreadable = new Set<string>();
  for (let i = 0; i < tenantIds.length; i += CHUNK) {
    let todo = tenantIds.slice(i, i + CHUNK);
    for (let attempt = 1; todo.length > 0 && attempt <= ATTEMPTS; attempt++) {
      const snap = await takeSnapshot(pool, redis, todo);
      snap.unreadableOutboxEntries.forEach((id) => unreadable.add(id));
      const again: string[] = [];
      for (const ts of snap.tenants) {
        const cmp = compareTenant(ts);
        const report: TenantReport = { ...cmp, driftFen: absDrift(cmp) };
        reports.set(ts.tenantId, report); // a tenant measured again replaces its earlier report
        const last = attempt === ATTEMPTS;
        if (snap.spanMs > MAX_SNAPSHOT_SPAN_MS) {
          report.state = 'unstable';
          report.detail = `Redis was read ${snap.spanMs} ms after PostgreSQL: acknowledged outbox entries may have been trimmed meanwhile`;
        }
        if (report.state === 'unstable') {
          report.detail ??= `credits applied in Redis but not in this ledger snapshot (top-up in flight?): ${report.creditsAhead.join(', ')}`;
          if (!last) again.push(ts.tenantId);
          else if (repair) report.repair = 'gave_up';
          continue;
        }
        if (!repair || report.state !== 'drift') continue;
        const refused = refusal(ts.tenantId);
        if (refused) {
          report.repair = 'refused';
          report.detail = refused;
          continue;
        }
        const outcome = await repairOne(redis, ts, report);
        if (outcome === 'again' && !last) again.push(ts.tenantId);
        else if (outcome === 'again') report.repair = 'gave_up';
      }
      todo = again;
    }
  }

  const tenants = tenantIds.map((t) => reports.get(t)!).filter(Boolean);
  const stats = await outboxStats(outbox);
  const report: Report = {
    at: new Date(),
    repair,
    tenants,
    checked: tenants.length,
    driftTenants: tenants.filter((t) => t.state === 'drift').length,
    // an unstable reading (top-up in flight) is not drift: it must not trip the drift alert
    driftFen: tenants.filter((t) => t.state === 'drift').reduce((a, t) => a + t.driftFen, 0n),
    repaired: tenants.filter((t) => t.repair === 'repaired').length,
    deferred: tenants.filter((t) => t.repair === 'deferred').length,
    refused: tenants.filter((t) => t.repair === 'refused').length,
    unstable: tenants.filter((t) => t.state === 'unstable').length,
    notLoaded: tenants.filter((t) => t.state === 'not_loaded').length,
    outbox: { backlog: stats.backlog, deadLetters: stats.deadLetters, unreadable: [...unreadable] },
    ledgerInconsistent: await inconsistentAccounts(pool),
  };
  metrics.reconcileDrift.set(Number(report.driftFen));
  metrics.reconcileDriftTenants.set(report.driftTenants);
  const summary = { checked: report.checked, driftTenants: report.driftTenants, driftFen: report.driftFen.toString(), repaired: report.repaired, deferred: report.deferred, unstable: report.unstable };
  // runs every maintenance interval on every instance: quiet unless something differs
  if (report.driftTenants > 0 || report.unstable > 0) log?.info(summary, 'reconciliation found differences');
  else log?.debug(summary, 'reconciliation done');
  return report;
}

/** Repair one drifted tenant; 'again' = measure it again (a missing credit arrived meanwhile). */
async function repairOne(redis: ReturnType<typeof withReconcileCommands>, ts: TenantSnapshot, report: TenantReport): Promise<'done' | 'again'> {
  const byId = new Map(ts.ledger.map((b) => [b.bucketId, b]));
  const corrections = report.buckets
    .filter((b) => b.driftFen !== 0n)
    .map((b) => ({ bucketId: b.bucketId, deltaFen: -b.driftFen, ledger: byId.get(b.bucketId) }));
  const out = await repairTenant(redis, ts.tenantId, corrections, report.missingCredits);
  switch (out.result) {
    case 'repaired':
      report.repair = 'repaired';
      // live calls at their final grant may go on now that the balance grew
      if (corrections.some((c) => c.deltaFen > 0n)) {
        await redis.publish(controlChannel(redis.keyPrefix), JSON.stringify({ tenantId: ts.tenantId, action: 'credit' }));
      }
      return 'done';
    case 'held':
      report.repair = 'deferred';
      report.detail = `bucket ${out.bucketId}: taking back ${-out.deltaFen} fen would exceed the ${out.availableFen} fen not reserved by live calls; run again when they end`;
      return 'done';
    case 'not_loaded':
      report.state = 'not_loaded';
      return 'done';
    case 'moved':
      report.detail = `credit transfer ${out.transferId} was applied while measuring`;
      return 'again';
  }
}
