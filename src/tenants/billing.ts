/**
 * Periodic charges and period end, posted to the ledger with idempotency keys so each runs safely again:
 * - monthly number rental: receivable → revenue:rental, key rental:<numberId>:<YYYY-MM>
 * - late fees on unpaid orders (art. 3.2): receivable → revenue:late_fee, key late:<orderId>:<days>
 * - period end (art. 7.2): numbers reclaimed, tenant terminated; the remaining balance is cleared by the charging
 *   engine's bucket expiry (bucket → expired, kind expiry_clear, via the outbox). Arrears (receivable) stay collectable.
 */
import { postTransfers, systemAccount, tenantBuckets, type PostResult, type Queryable } from '../ledger/ledger.js';
import { addWorkingDays, daysOverdue, lateFeeFen, monthLabel } from './rules.js';
import { inTransaction } from './tx.js';

export const PAYMENT_TERM_WORKING_DAYS = 3;

export interface PostedCharge {
  key: string;
  amountFen: bigint;
  transferId: bigint;
  duplicate: boolean;
}

/** Rent of the month containing `at` for every approved or suspended number of the tenant (rent > 0). */
export async function chargeRental(db: Queryable, tenantId: bigint, at: Date, timeZone: string): Promise<PostedCharge[]> {
  const month = monthLabel(at, timeZone);
  return inTransaction(db, async (c) => {
    const nums = await c.query<{ id: bigint; e164: string; monthly_rent_fen: bigint }>(
      `select id, e164, monthly_rent_fen from numbers where tenant_id = $1 and state in ('approved', 'suspended') and monthly_rent_fen > 0 order by id`,
      [tenantId.toString()],
    );
    if (nums.rows.length === 0) return [];
    const receivable = await systemAccount(c, 'receivable');
    const revenue = await systemAccount(c, 'revenue:rental');
    const transfers = nums.rows.map((n) => ({
      idempotencyKey: `rental:${n.id}:${month}`, debitAccountId: receivable, creditAccountId: revenue, amountFen: n.monthly_rent_fen,
      kind: 'rental' as const, tenantId, memo: `rent ${n.e164} ${month}`,
    }));
    const r = await postTransfers(c, transfers);
    return withIds(transfers, r);
  });
}

/**
 * Late fee accrued up to `at` on each active unpaid order of the tenant: due 3 working days after signing; the fee
 * is lateFeeFen(total, whole days overdue) and only the part not yet posted is posted (one transfer per day count).
 */
export async function accrueLateFees(db: Queryable, tenantId: bigint, at: Date, timeZone: string): Promise<PostedCharge[]> {
  return inTransaction(db, async (c) => {
    const orders = await c.query<{ id: bigint; order_no: string; signed_at: Date; total_fen: bigint; posted: bigint }>(
      `select o.id, o.order_no, o.signed_at, o.total_fen,
              coalesce((select sum(amount_fen) from ledger_transfers where kind = 'late_fee' and idempotency_key like 'late:' || o.id || ':%'), 0)::int8 as posted
         from orders o where o.tenant_id = $1 and o.status = 'active' and o.paid_at is null and o.total_fen > 0 for update of o`,
      [tenantId.toString()],
    );
    const out: PostedCharge[] = [];
    for (const o of orders.rows) {
      const days = daysOverdue(addWorkingDays(o.signed_at, PAYMENT_TERM_WORKING_DAYS, timeZone), at);
      const owed = lateFeeFen(o.total_fen, days) - o.posted;
      if (owed <= 0n) continue;
      const t = {
        idempotencyKey: `late:${o.id}:${days}`, debitAccountId: await systemAccount(c, 'receivable'),
        creditAccountId: await systemAccount(c, 'revenue:late_fee'), amountFen: owed, kind: 'late_fee' as const, tenantId,
        memo: `late fee order ${o.order_no}: ${days} days x 3 per mille`,
      };
      out.push(...withIds([t], await postTransfers(c, [t])));
    }
    return out;
  });
}

export interface ClearingResult {
  terminated: boolean; // false: the period has not ended (nothing done)
  numbersReclaimed: number;
  /**
   * Buckets still holding money in the ledger. Their money leaves through ONE path only: the charging engine
   * expires each bucket in Redis at its expires_at (= the service end for order and top-up credit) and the outbox
   * consumer posts the bucket → expired ledger entry (kind expiry_clear). Posting it here as well would clear twice.
   */
  remaining: { bucketId: bigint; balanceFen: bigint; expiresAt: Date | null; expiresByPeriodEnd: boolean }[];
}

/**
 * Period end (art. 7.2) for a tenant whose service_end <= at: reclaim its numbers and terminate it (arrears stay in
 * receivable). Does nothing (terminated: false) before the end. Idempotent. The caller then tells Redis (tenant
 * state + expireBuckets) so live calls stop and the remaining balance is cleared to the ledger now.
 */
export async function periodEndClearing(db: Queryable, tenantId: bigint, at: Date): Promise<ClearingResult> {
  return inTransaction(db, async (c) => {
    const t = (await c.query<{ service_end: Date | null }>('select service_end from tenants where id = $1 for update', [tenantId.toString()])).rows[0];
    if (!t?.service_end || t.service_end.getTime() > at.getTime()) return { terminated: false, numbersReclaimed: 0, remaining: [] };
    const end = t.service_end.getTime();
    const remaining = (await tenantBuckets(c, tenantId))
      .filter((b) => b.balanceFen > 0n)
      .map((b) => ({ bucketId: b.bucketId, balanceFen: b.balanceFen, expiresAt: b.expiresAt, expiresByPeriodEnd: b.expiresAt !== null && b.expiresAt.getTime() <= end }));
    const n = await c.query(`update numbers set state = 'reclaimed', state_reason = 'service period ended', updated_at = now()
                               where tenant_id = $1 and state <> 'reclaimed'`, [tenantId.toString()]);
    await c.query(`update tenants set status = 'terminated', status_reason = 'service period ended', updated_at = now() where id = $1`, [tenantId.toString()]);
    return { terminated: true, numbersReclaimed: n.rowCount ?? 0, remaining };
  });
}

function withIds(transfers: { idempotencyKey: string; amountFen: bigint }[], r: PostResult): PostedCharge[] {
  return transfers.map((t, i) => ({ key: t.idempotencyKey, amountFen: t.amountFen, transferId: r.results[i]!.id, duplicate: r.results[i]!.duplicate }));
}
