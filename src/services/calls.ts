/** Live calls as operators and tenants see them (the limits' shared call sets in Redis), and operator cuts. */
import { recordAudit } from '../store/audit.js';
import { liveCallsByTenant, publishCut } from '../sip/control.js';
import type { Actor, ServiceDeps } from './context.js';
import { needRedis, requireWriter, resolveTenant, tx } from './common.js';

interface LiveCalls {
  tenantId: string;
  calls: number;
}

/** Operators: every tenant with live calls (or one); a tenant: its own count. */
export async function liveCalls(deps: ServiceDeps, actor: Actor, tenant?: string | bigint): Promise<LiveCalls[]> {
  const scoped = tenant ?? (actor.kind === 'tenant' ? actor.tenantId : undefined);
  const tenantId = scoped === undefined ? undefined : (await resolveTenant(deps, actor, scoped)).id.toString();
  const live = await liveCallsByTenant(await needRedis(deps, 'live calls are unknown'), tenantId);
  return [...live].map(([t, n]) => ({ tenantId: t, calls: n }));
}

/**
 * Cut every live call of a tenant on every SIP instance (BYE on both legs, CDRs written); the tenant stays active.
 * The audit row is written first: the cut cannot be rolled back once published.
 */
export async function cutCalls(deps: ServiceDeps, actor: Actor, tenant: string | bigint, reason: string | null): Promise<{ tenantId: string; tenant: string; liveCallsBefore: number; instancesReached: number }> {
  requireWriter(actor, 'cutting calls');
  const t = await resolveTenant(deps, actor, tenant);
  const redis = await needRedis(deps, 'live calls are unknown and nothing was cut');
  const tenantId = t.id.toString();
  const why = reason?.trim() || 'operator cut';
  const before = (await liveCallsByTenant(redis, tenantId)).get(tenantId) ?? 0;
  await tx(deps, (c) => recordAudit(c, { actor, action: 'calls.cut', targetType: 'tenant', targetId: t.id, tenantId: t.id, detail: { reason: why, liveCallsBefore: before } }));
  const instances = await publishCut(redis, tenantId, why);
  return { tenantId, tenant: t.code, liveCallsBefore: before, instancesReached: instances };
}
