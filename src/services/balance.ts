/**
 * A tenant's settled prepaid balance from the ledger (system of record), per bucket and in total, with the
 * low-balance state of contract art. 2.2. Calls in progress are reserved in Redis and not yet in the ledger, so they
 * are not deducted here.
 */
import { tenantBuckets, type BucketBalance as LedgerBucket } from '../store/buckets.js';
import { checkLowBalance } from '../tenants/notices.js';
import type { LowBalanceReason } from '../tenants/rules.js';
import type { Actor, ServiceDeps } from './context.js';
import { calendarOf, resolveTenant } from './common.js';

export interface BucketBalance extends LedgerBucket {
  state: 'usable' | 'not_yet_valid' | 'expired';
}

interface TenantBalance {
  tenantId: bigint;
  asOf: Date;
  buckets: BucketBalance[];
  /** usable now = valid now and not expired; paid and gift apart (gift credit is not refundable, contract art. 5.3) */
  usablePaidFen: bigint;
  usableGiftFen: bigint;
  usableTotalFen: bigint;
  lowBalance: { low: boolean; reasons: LowBalanceReason[]; monthlyFeeFen: bigint; amountDueFen: bigint; remainingMonths: number };
}

export async function tenantBalance(deps: ServiceDeps, actor: Actor, tenant: string | bigint): Promise<TenantBalance> {
  const t = await resolveTenant(deps, actor, tenant);
  const now = deps.now();
  const buckets = (await tenantBuckets(deps.pool, t.id)).map((b): BucketBalance => {
    const state = b.validFrom > now ? 'not_yet_valid' : b.expiresAt !== null && b.expiresAt <= now ? 'expired' : 'usable';
    return { ...b, state };
  });
  const usable = (kind: 'paid' | 'gift') => buckets.filter((b) => b.kind === kind && b.state === 'usable').reduce((s, b) => s + b.balanceFen, 0n);
  const usablePaidFen = usable('paid');
  const usableGiftFen = usable('gift');
  const calendar = await calendarOf(deps);
  const low = await checkLowBalance(deps.pool, t.id, { percent: deps.config.charging.lowBalancePercent, at: now, calendar, notify: false });
  return {
    tenantId: t.id, asOf: now, buckets, usablePaidFen, usableGiftFen, usableTotalFen: usablePaidFen + usableGiftFen,
    lowBalance: { low: low.reasons.length > 0, reasons: low.reasons, monthlyFeeFen: low.monthlyFeeFen, amountDueFen: low.amountDueFen, remainingMonths: low.remainingMonths },
  };
}
