/**
 * Make Redis follow PostgreSQL after a tenant change. PostgreSQL is committed first; a Redis failure
 * is reported, never thrown, because `softswitch reconcile` repairs Redis from the ledger.
 */
import { applyCredit, setTenantState } from '../charging/tenant-sync.js';
import type { ChargingRedis } from '../charging/redis.js';
import type { Credit } from './credits.js';
import type { Tenant } from '../store/tenants.js';

export type SyncOutcome = 'applied' | 'already-applied' | 'skipped' | `failed: ${string}`;

export const REDIS_REPAIR_HINT = 'PostgreSQL is committed; Redis will be repaired by `softswitch reconcile`';

export async function syncCredit(redis: ChargingRedis | null, c: Credit): Promise<SyncOutcome> {
  if (!redis) return 'skipped';
  try {
    const now = await applyCredit(redis, {
      tenantId: c.tenantId.toString(), bucketId: c.bucketId.toString(), kind: c.kind, amountFen: c.amountFen,
      validFrom: c.validFrom, expiresAt: c.expiresAt, transferId: c.transferId.toString(),
    });
    return now ? 'applied' : 'already-applied';
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
}

export async function syncTenantState(redis: ChargingRedis | null, t: Tenant): Promise<SyncOutcome> {
  if (!redis) return 'skipped';
  try {
    await setTenantState(redis, {
      tenantId: t.id.toString(), status: t.status, serviceStart: t.serviceStart, serviceEnd: t.serviceEnd,
      ratePlanId: t.ratePlanId === null ? null : t.ratePlanId.toString(),
    });
    return 'applied';
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
}
