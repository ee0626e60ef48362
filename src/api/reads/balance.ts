/**
 * A tenant's settled prepaid balance from the ledger (system of record), per bucket and in total.
 * Calls in progress are reserved in Redis and not yet in the ledger, so they are not deducted here.
 */
import type { Db } from '../tokens.js';

export interface BucketBalance {
  bucketId: bigint;
  kind: 'paid' | 'gift';
  validFrom: Date;
  expiresAt: Date | null;
  balanceFen: bigint;
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
  const r = await db.query<{ bucket_id: bigint; kind: 'paid' | 'gift'; valid_from: Date; expires_at: Date | null; balance_fen: bigint }>(
    `select b.id as bucket_id, b.kind, b.valid_from, b.expires_at,
            coalesce(a.credits_posted - a.debits_posted, 0)::bigint as balance_fen
       from balance_buckets b left join ledger_accounts a on a.bucket_id = b.id
      where b.tenant_id = $1
      order by b.expires_at nulls last, b.id`,
    [tenantId],
  );
  const buckets = r.rows.map((x): BucketBalance => {
    const state = x.valid_from > now ? 'not_yet_valid' : x.expires_at !== null && x.expires_at <= now ? 'expired' : 'usable';
    return { bucketId: x.bucket_id, kind: x.kind, validFrom: x.valid_from, expiresAt: x.expires_at, balanceFen: x.balance_fen, state };
  });
  const usable = (kind: 'paid' | 'gift') => buckets.filter((b) => b.kind === kind && b.state === 'usable').reduce((s, b) => s + b.balanceFen, 0n);
  const usablePaidFen = usable('paid');
  const usableGiftFen = usable('gift');
  return { asOf: now, buckets, usablePaidFen, usableGiftFen, usableTotalFen: usablePaidFen + usableGiftFen };
}
