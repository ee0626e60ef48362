/**
 * Refund runs with their money (contract art. 5.3): the refund itself is in the ledger (kind 'refund', key
 * refund:<refundId>:<bucketId>, src/ledger/keys.ts), posted from the charging engine's outbox event; a run's
 * transfers are the refund transfers under its id.
 */
import type { Queryable } from '../db/tx.js';
import { refundIdOf } from '../ledger/keys.js';
import { refundTransfers } from '../store/ledger.js';
import { insertRefund, refundsOf, type RefundRecord } from '../store/terminations.js';

export interface Refund extends RefundRecord {
  /** refund transfers in the ledger so far (bucket → cash); written when the outbox event is */
  transfers: { bucketId: bigint; amountFen: bigint; transferId: bigint; bookedAt: Date }[];
  refundedFen: bigint;
}

export async function recordRefund(db: Queryable, r: Omit<RefundRecord, 'id'>): Promise<Refund> {
  return (await withTransfers(db, [await insertRefund(db, r)]))[0]!;
}

/** A tenant's refund runs, oldest first, each with its ledger transfers. */
export async function listRefundRows(db: Queryable, tenantId: bigint): Promise<Refund[]> {
  return withTransfers(db, await refundsOf(db, tenantId));
}

async function withTransfers(db: Queryable, rows: RefundRecord[]): Promise<Refund[]> {
  if (rows.length === 0) return [];
  const tr = await refundTransfers(db, rows[0]!.tenantId);
  return rows.map((r) => {
    const transfers = tr.filter((t) => refundIdOf(t.key) === r.id.toString()).map(({ bucketId, amountFen, transferId, bookedAt }) => ({ bucketId, amountFen, transferId, bookedAt }));
    return { ...r, transfers, refundedFen: transfers.reduce((s, t) => s + t.amountFen, 0n) };
  });
}
