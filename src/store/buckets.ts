/**
 * SQL of balance buckets (balance_buckets) and their ledger balances: a tenant's buckets, their owners, the credit
 * transfers that funded them, and the snapshots the charging engine and reconcile load Redis from.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { withSnapshot, type Queryable } from '../db/tx.js';

export type BucketKind = 'paid' | 'gift';

export interface BucketBalance {
  bucketId: bigint;
  kind: BucketKind;
  validFrom: Date;
  expiresAt: Date | null;
  balanceFen: bigint;
}

const BUCKETS_OF_TENANT = `select b.id, b.kind, b.valid_from, b.expires_at, coalesce(a.credits_posted - a.debits_posted, 0)::int8 as balance
         from balance_buckets b left join ledger_accounts a on a.bucket_id = b.id
        where b.tenant_id = $1 order by b.id`;
interface BucketRow { id: bigint; kind: BucketKind; valid_from: Date; expires_at: Date | null; balance: bigint }
const toBucket = (r: BucketRow): BucketBalance => ({ bucketId: r.id, kind: r.kind, validFrom: r.valid_from, expiresAt: r.expires_at, balanceFen: r.balance });

/** A tenant's buckets with their balances from the ledger (0 for a bucket never credited), oldest first. */
export async function tenantBuckets(db: Queryable, tenantId: bigint): Promise<BucketBalance[]> {
  return (await db.query<BucketRow>(BUCKETS_OF_TENANT, [tenantId.toString()])).rows.map(toBucket);
}

export async function insertBucket(
  c: Queryable, b: { tenantId: bigint; kind: BucketKind; sourceOrderId: bigint | null; validFrom: Date; expiresAt: Date | null },
): Promise<bigint> {
  const r = await c.query<{ id: bigint }>(
    `insert into balance_buckets (tenant_id, kind, source_order_id, valid_from, expires_at) values ($1, $2, $3, $4, $5) returning id`,
    [b.tenantId.toString(), b.kind, b.sourceOrderId?.toString() ?? null, b.validFrom, b.expiresAt],
  );
  return r.rows[0]!.id;
}

/** The tenant a bucket belongs to, or null when there is no such bucket. */
export async function bucketOwner(db: Queryable, bucketId: bigint): Promise<bigint | null> {
  return (await db.query<{ tenant_id: bigint }>('select tenant_id from balance_buckets where id = $1', [bucketId.toString()])).rows[0]?.tenant_id ?? null;
}

/** Owners of many buckets in one query (decimal ids in, decimal ids out); unknown buckets are left out. */
export async function bucketOwners(c: Queryable, bucketIds: string[]): Promise<{ bucketId: string; tenantId: string }[]> {
  const { rows } = await c.query<{ id: bigint; tenant_id: bigint }>('select id, tenant_id from balance_buckets where id = any($1::int8[])', [bucketIds]);
  return rows.map((r) => ({ bucketId: r.id.toString(), tenantId: r.tenant_id.toString() }));
}

/** The credit (a bucket's funding transfer) made under a ledger key, or null. */
export interface StoredCredit {
  transferId: bigint;
  tenantId: bigint;
  bucketId: bigint;
  kind: BucketKind;
  amountFen: bigint;
  validFrom: Date;
  expiresAt: Date | null;
}

export async function creditUnderKey(c: Queryable, key: string): Promise<StoredCredit | null> {
  const r = await c.query<{ id: bigint; tenant_id: bigint; bucket_id: bigint; kind: BucketKind; amount_fen: bigint; valid_from: Date; expires_at: Date | null }>(
    `select tr.id, b.tenant_id, b.id as bucket_id, b.kind, tr.amount_fen, b.valid_from, b.expires_at
       from ledger_transfers tr join ledger_accounts a on a.id = tr.credit_account_id join balance_buckets b on b.id = a.bucket_id
      where tr.idempotency_key = $1`,
    [key],
  );
  const p = r.rows[0];
  return p ? { transferId: p.id, tenantId: p.tenant_id, bucketId: p.bucket_id, kind: p.kind, amountFen: p.amount_fen, validFrom: p.valid_from, expiresAt: p.expires_at } : null;
}

/** A serialising lock on a credit's ledger key until the transaction ends (a retry never makes a second bucket). */
export async function lockCreditKey(c: PoolClient, key: string): Promise<void> {
  await c.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
}

/**
 * The art. 2.2 figures of a tenant's buckets usable at `at`: their balance, the prepaid credit that funded them
 * (top-ups and gifts) and the id of the tenant's latest credit.
 */
export async function usableCreditSums(db: Queryable, tenantId: bigint, at: Date): Promise<{ balanceFen: bigint; prepaidFen: bigint; lastCreditId: bigint | null }> {
  const r = (await db.query<{ balance: bigint; prepaid: bigint; last_credit: bigint | null }>(
    `select coalesce(sum(a.credits_posted - a.debits_posted), 0)::int8 as balance,
            coalesce(sum((select sum(tr.amount_fen) from ledger_transfers tr where tr.credit_account_id = a.id and tr.kind in ('top_up', 'gift'))), 0)::int8 as prepaid,
            (select max(tr.id) from ledger_transfers tr join ledger_accounts a2 on a2.id = tr.credit_account_id
               join balance_buckets b2 on b2.id = a2.bucket_id where b2.tenant_id = $1 and tr.kind in ('top_up', 'gift')) as last_credit
       from balance_buckets b join ledger_accounts a on a.bucket_id = b.id
      where b.tenant_id = $1 and b.valid_from <= $2 and (b.expires_at is null or b.expires_at > $2)`,
    [tenantId.toString(), at],
  )).rows[0]!;
  return { balanceFen: r.balance, prepaidFen: r.prepaid, lastCreditId: r.last_credit };
}

/** What Redis is loaded from for one tenant, read in one snapshot (src/charging/tenant-sync.ts loadTenant). */
interface ChargingSnapshot {
  tenant: { status: string; serviceStart: Date | null; serviceEnd: Date | null; ratePlanId: bigint | null } | null;
  buckets: BucketBalance[];
  /** credit transfers already in the ledger (top-ups and gifts) */
  credits: { transferId: bigint; bucketId: bigint; amountFen: bigint }[];
}

export async function chargingSnapshot(pool: Pool, tenantId: string): Promise<ChargingSnapshot> {
  return withSnapshot(pool, async (db) => {
    const t = (await db.query<{ status: string; service_start: Date | null; service_end: Date | null; rate_plan_id: bigint | null }>(
      'select status, service_start, service_end, rate_plan_id from tenants where id = $1', [tenantId])).rows[0];
    const buckets = (await db.query<BucketRow>(BUCKETS_OF_TENANT, [tenantId])).rows.map(toBucket);
    const credits = (await db.query<{ id: bigint; bucket_id: bigint; amount_fen: bigint }>(
      `select tr.id, b.id as bucket_id, tr.amount_fen from ledger_transfers tr
         join ledger_accounts a on a.id = tr.credit_account_id
         join balance_buckets b on b.id = a.bucket_id
        where b.tenant_id = $1 and tr.kind in ('top_up', 'gift')`,
      [tenantId],
    )).rows;
    return {
      tenant: t ? { status: t.status, serviceStart: t.service_start, serviceEnd: t.service_end, ratePlanId: t.rate_plan_id } : null,
      buckets,
      credits: credits.map((r) => ({ transferId: r.id, bucketId: r.bucket_id, amountFen: r.amount_fen })),
    };
  });
}

/** Buckets with their ledger balances of many tenants, oldest first (reconcile's snapshot; the caller's transaction). */
export async function bucketsOfTenants(c: PoolClient, tenantIds: string[]): Promise<(BucketBalance & { tenantId: bigint })[]> {
  const { rows } = await c.query<BucketRow & { tenant_id: bigint }>(
    `select b.tenant_id, b.id, b.kind, b.valid_from, b.expires_at, coalesce(a.credits_posted - a.debits_posted, 0)::int8 as balance
       from balance_buckets b left join ledger_accounts a on a.bucket_id = b.id
      where b.tenant_id = any($1::int8[]) order by b.id`,
    [tenantIds],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, ...toBucket(r) }));
}

/** Ids of the credit transfers (top-ups and gifts) of many tenants (reconcile's snapshot; the caller's transaction). */
export async function creditsOfTenants(c: PoolClient, tenantIds: string[]): Promise<{ tenantId: bigint; transferId: bigint }[]> {
  const { rows } = await c.query<{ tenant_id: bigint; id: bigint }>(
    `select b.tenant_id, tr.id from ledger_transfers tr
         join ledger_accounts a on a.id = tr.credit_account_id
         join balance_buckets b on b.id = a.bucket_id
        where b.tenant_id = any($1::int8[]) and tr.kind in ('top_up', 'gift')`,
    [tenantIds],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, transferId: r.id }));
}
