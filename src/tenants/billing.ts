/**
 * Periodic charges and period end, posted with idempotency keys so each runs safely again and catches up after
 * downtime (the scheduler in src/jobs runs them; the `billing` CLI commands run them by hand):
 * - rent: every rent period started so far, for every number the tenant holds: receivable tenant:<t>:receivable →
 *   revenue:rental, key rent:<numberId>:<period start day> (src/billing/rent.ts);
 * - late fees (art. 3.2): one receivable per overdue receivable and day, key late:<receivableId>:<day>
 *   (src/billing/late-fee.ts);
 * - period end (art. 7.2): numbers reclaimed, tenant terminated; the remaining balance is cleared by the charging
 *   engine's bucket expiry (bucket → expired, kind expiry_clear, via the outbox). Arrears stay collectable.
 */
import { inTransaction, type Queryable } from '../db/tx.js';
import { lateFeeDays, overdueDays, PAYMENT_TERM_WORKING_DAYS } from '../billing/late-fee.js';
import { rentPeriods } from '../billing/rent.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { startOfDay } from '../calendar/zone.js';
import { lateFeeKey } from '../ledger/keys.js';
import { tenantBuckets } from '../store/buckets.js';
import { listNumbers, reclaimNumbers } from '../store/numbers.js';
import { allocationsOf, billedRentPeriods, type Receivable } from '../store/receivables.js';
import { tenantById, updateTenantStatus } from '../store/tenants.js';
import { issueRent } from './orders.js';
import { issueReceivable, listReceivables } from './receivables.js';

/** Rent of every period started by `at` for each number the tenant holds (any state but reclaimed); returns the
 * receivables issued by this call (periods billed before are skipped). */
export async function chargeRent(db: Queryable, tenantId: bigint, at: Date, cal: WorkingCalendar): Promise<Receivable[]> {
  return inTransaction(db, async (c) => {
    const t = await tenantById(c, tenantId);
    if (!t?.serviceStart || !t.serviceEnd) return [];
    const { serviceStart, serviceEnd } = t;
    const out: Receivable[] = [];
    // periods already billed (by the order or an earlier run): skipped without a ledger round trip each day
    const billed = await billedRentPeriods(c, tenantId);
    for (const n of await listNumbers(c, tenantId)) {
      if (n.state === 'reclaimed' || n.rent.amountFen === 0n) continue;
      for (const w of rentPeriods(serviceStart, serviceEnd, n.rent.period, cal.timeZone)) {
        if (w.start.getTime() > at.getTime()) break;
        if (n.heldSince && n.heldSince.getTime() >= w.end.getTime()) continue;
        if (billed.has(`${n.id}/${w.start.getTime()}`)) continue;
        const issuedAt = n.heldSince && n.heldSince.getTime() > w.start.getTime() ? n.heldSince : w.start;
        const r = await issueRent(c, n, serviceStart, serviceEnd, w.start, { issuedAt, dueAt: cal.termEnd(issuedAt, PAYMENT_TERM_WORKING_DAYS) }, cal.timeZone);
        if (r) out.push(r);
      }
    }
    return out;
  });
}

/**
 * Late fees up to `at` (art. 3.2): for every receivable that bears them, one late-fee receivable per overdue day
 * not yet posted (catch-up after downtime included), on the amount outstanding at the start of that day.
 */
export async function accrueLateFees(db: Queryable, tenantId: bigint, at: Date, cal: WorkingCalendar): Promise<Receivable[]> {
  return inTransaction(db, async (c) => {
    const all = await listReceivables(c, tenantId);
    const posted = new Set(all.filter((r) => r.kind === 'late_fee').map((r) => `${r.parentId}:${r.feeDay}`));
    const pays = await allocationsOf(c, tenantId);
    const out: Receivable[] = [];
    for (const r of all) {
      if (!r.accruesLateFee || r.dueAt.getTime() > at.getTime()) continue;
      const payments = pays.filter((p) => p.receivableId === r.id).map((p) => ({ at: p.receivedAt, amountFen: p.amountFen }));
      for (const d of lateFeeDays(r, payments, at, cal.timeZone)) {
        if (posted.has(`${r.id}:${d.day}`)) continue;
        const issuedAt = startOfDay(d.day, cal.timeZone);
        out.push((await issueReceivable(c, {
          tenantId, kind: 'late_fee', amountFen: d.feeFen, issuedAt, dueAt: cal.termEnd(issuedAt, PAYMENT_TERM_WORKING_DAYS),
          key: lateFeeKey(r.id, d.day), parentId: r.id, feeDay: d.day,
          description: `late fee ${d.day}: 3 per mille of ${d.outstandingFen} fen overdue (${r.description})`,
        })).receivable);
      }
    }
    return out;
  });
}

export interface OverdueState {
  overdueFen: bigint; // outstanding on receivables past their due time
  days: number; // overdue days of the oldest overdue receivable (0 = nothing overdue)
  oldestDueAt: Date | null;
}

/** What of a tenant's debt is overdue at `at`, and for how many days. */
export async function overdueState(db: Queryable, tenantId: bigint, at: Date, timeZone: string): Promise<OverdueState> {
  const late = (await listReceivables(db, tenantId, { open: true })).filter((r) => r.dueAt.getTime() <= at.getTime());
  if (late.length === 0) return { overdueFen: 0n, days: 0, oldestDueAt: null };
  const oldest = late.reduce((a, b) => (a.dueAt.getTime() <= b.dueAt.getTime() ? a : b));
  return { overdueFen: late.reduce((s, r) => s + r.outstandingFen, 0n), days: overdueDays(oldest.dueAt, at, timeZone), oldestDueAt: oldest.dueAt };
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
    const t = await tenantById(c, tenantId, { forUpdate: true });
    if (!t?.serviceEnd || t.serviceEnd.getTime() > at.getTime()) return { terminated: false, numbersReclaimed: 0, remaining: [] };
    const end = t.serviceEnd.getTime();
    const remaining = (await tenantBuckets(c, tenantId))
      .filter((b) => b.balanceFen > 0n)
      .map((b) => ({ bucketId: b.bucketId, balanceFen: b.balanceFen, expiresAt: b.expiresAt, expiresByPeriodEnd: b.expiresAt !== null && b.expiresAt.getTime() <= end }));
    const numbersReclaimed = await reclaimNumbers(c, tenantId, 'service period ended');
    await updateTenantStatus(c, tenantId, 'terminated', 'service period ended');
    return { terminated: true, numbersReclaimed, remaining };
  });
}
