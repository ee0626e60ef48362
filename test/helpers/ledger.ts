/**
 * A new balance bucket credited through the real ledger (postTransfers from cash for paid credit, from gift funding
 * for gifts), as an operator's top-up or order would do it. Tests never write ledger rows by hand.
 */
import type { Pool } from '../../src/db/pool.js';
import { bucketAccount, postTransfers, systemAccount } from '../../src/ledger/ledger.js';

export async function creditedBucket(pool: Pool, tenantId: string | bigint, kind: 'paid' | 'gift', amountFen: bigint,
  o: { validFrom?: Date; expiresAt?: Date | null; keyPrefix?: string } = {}): Promise<{ bucketId: string; transferId: string }> {
  const b = await pool.query<{ id: bigint }>(
    'insert into balance_buckets (tenant_id, kind, valid_from, expires_at) values ($1, $2, $3, $4) returning id',
    [tenantId.toString(), kind, o.validFrom ?? new Date(0), o.expiresAt ?? null]);
  const bucketId = b.rows[0]!.id;
  const r = await postTransfers(pool, [{
    idempotencyKey: `${o.keyPrefix ?? 'test-credit'}:${bucketId}`, debitAccountId: await systemAccount(pool, kind === 'paid' ? 'cash' : 'gift_funding'),
    creditAccountId: await bucketAccount(pool, bucketId), amountFen, kind: kind === 'paid' ? 'top_up' : 'gift', tenantId: BigInt(tenantId),
  }]);
  return { bucketId: bucketId.toString(), transferId: r.results[0]!.id.toString() };
}
