/** Redis ⇄ ledger reconciliation as an operation: a report for anyone on staff, a repair for writers (audited). */
import { recordAudit } from '../store/audit.js';
import { reconcile, type Report } from '../reconcile/reconcile.js';
import type { Actor, ServiceDeps } from './context.js';
import { needRedis, requireStaff, requireWriter, resolveTenant, tx } from './common.js';

export async function reconcileReport(deps: ServiceDeps, actor: Actor, input: { tenant?: string | bigint; repair?: boolean } = {}): Promise<Report> {
  if (input.repair) requireWriter(actor, 'reconcile repair');
  else requireStaff(actor, 'the reconcile report');
  const tenantId = input.tenant === undefined ? undefined : (await resolveTenant(deps, actor, input.tenant)).id.toString();
  const redis = await needRedis(deps, input.repair ? 'cannot reconcile; nothing changed' : 'cannot reconcile');
  const report = await reconcile({ pool: deps.pool, redis, tenantId, repair: input.repair === true, logger: deps.logger });
  if (input.repair && report.repaired > 0) {
    // Redis is not transactional with PostgreSQL: the row records what the repair did, after it did it.
    await tx(deps, (c) => recordAudit(c, {
      actor, action: 'reconcile.repair', targetType: 'redis', targetId: tenantId ?? null, tenantId: tenantId === undefined ? null : BigInt(tenantId),
      detail: { repaired: report.repaired, deferred: report.deferred, driftFen: report.driftFen, tenants: report.tenants.filter((t) => t.repair).map((t) => ({ tenantId: t.tenantId, repair: t.repair })) },
    }));
  }
  return report;
}
