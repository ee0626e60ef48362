/**
 * A tenant's settled prepaid balance from the ledger (system of record), per bucket and in total.
 * Calls in progress are reserved in Redis and not yet in the ledger, so they are not deducted here.
 */
import { tenantBuckets, type BucketBalance as LedgerBucket } from '../../ledger/ledger.js';
import type { Db } from '../tokens.js';

export interface BucketBalance extends LedgerBucket {
  state: 'usable' | 'not_yet_valid' | 'expired';
}

export interface TenantBalance {
  asOf: Date;
  buckets: BucketBalance[];
  /** usable now = valid now and not expired; paid and gift apart (gift credit is not refundable, contract art. 5.3) */
  usablePaidFen: bigint;
  usableGiftFen: bigint;
  usableTotalFen: bigint;
}

export async function tenantBalance(db: Db, tenantId: bigint, now = new Date()): Promise<TenantBalance> {
  const buckets = (await tenantBuckets(db, tenantId)).map((b): BucketBalance => {
    const state = b.validFrom > now ? 'not_yet_valid' : b.expiresAt !== null && b.expiresAt <= now ? 'expired' : 'usable';
    return { ...b, state };
  });
  const usable = (kind: 'paid' | 'gift') => buckets.filter((b) => b.kind === kind && b.state === 'usable').reduce((s, b) => s + b.balanceFen, 0n);
  const usablePaidFen = usable('paid');
  const usableGiftFen = usable('gift');
  return { asOf: now, buckets, usablePaidFen, usableGiftFen, usableTotalFen: usablePaidFen + usableGiftFen };
}
