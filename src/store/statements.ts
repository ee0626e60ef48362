/**
 * SQL of a monthly statement (src/billing/statement.ts assembles it): the tenant's bucket balances at the month's
 * start and end, every ledger transfer on its buckets and on its receivable account booked in the month, and the
 * month's answered calls with their destination. One repeatable-read snapshot, so every figure comes from the same
 * ledger state.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { withSnapshot } from '../db/tx.js';
import type { BucketKind, BucketMove, CallRow, ReceivableMove, StatementHead, StatementInput } from '../billing/statement.js';

type StatementData = Omit<StatementInput, keyof StatementHead>;

type Args = [id: string, start: Date, end: Date];

/** What the statement of [start, end) needs of one tenant. */
export async function statementData(pool: Pool, tenantId: bigint, start: Date, end: Date): Promise<StatementData> {
  return withSnapshot(pool, async (c) => {
    const args: Args = [tenantId.toString(), start, end];
    const buckets = await bucketSide(c, args);
    const calls = await answeredCalls(c, args);
    const owed = await receivableSide(c, args);
    return { ...buckets, calls, ...owed };
  });
}

/** The buckets' balances at the month's start and end, and their transfers booked in it. */
async function bucketSide(c: PoolClient, args: Args): Promise<Pick<StatementData, 'opening' | 'closing' | 'moves'>> {
  const acct = `select a.id, b.kind from ledger_accounts a join balance_buckets b on b.id = a.bucket_id where b.tenant_id = $1`;
  const bal = await c.query<{ kind: BucketKind; opening: bigint; closing: bigint }>(
    `with acct as (${acct})
     select acct.kind,
            coalesce(sum(case when tr.credit_account_id = acct.id then tr.amount_fen else -tr.amount_fen end) filter (where tr.booked_at < $2), 0)::int8 as opening,
            coalesce(sum(case when tr.credit_account_id = acct.id then tr.amount_fen else -tr.amount_fen end) filter (where tr.booked_at < $3), 0)::int8 as closing
       from acct join ledger_transfers tr on tr.credit_account_id = acct.id or tr.debit_account_id = acct.id
      group by acct.kind`,
    args,
  );
  const opening: Record<BucketKind, bigint> = { paid: 0n, gift: 0n };
  const closing: Record<BucketKind, bigint> = { paid: 0n, gift: 0n };
  for (const r of bal.rows) {
    opening[r.kind] = r.opening;
    closing[r.kind] = r.closing;
  }
  const moves = (await c.query<{ id: bigint; kind: string; bucket_kind: BucketKind; signed: bigint; booked_at: Date; memo: string | null; call_id: string | null }>(
    `with acct as (${acct})
     select tr.id, tr.kind, acct.kind as bucket_kind, case when tr.credit_account_id = acct.id then tr.amount_fen else -tr.amount_fen end as signed,
            tr.booked_at, tr.memo, tr.call_id
       from acct join ledger_transfers tr on tr.credit_account_id = acct.id or tr.debit_account_id = acct.id
      where tr.booked_at >= $2 and tr.booked_at < $3
      order by tr.booked_at, tr.id`,
    args,
  )).rows.map((r): BucketMove => ({ transferId: r.id, kind: r.kind, bucketKind: r.bucket_kind, signedFen: r.signed, bookedAt: r.booked_at, memo: r.memo, callId: r.call_id }));
  return { opening, closing, moves };
}

/** The month's answered calls (by their end) with the destination of their rate. */
async function answeredCalls(c: PoolClient, args: Args): Promise<CallRow[]> {
  return (await c.query<{ call_id: string; destination: string; billable_seconds: number }>(
    `select cd.call_id, cd.billable_seconds,
            coalesce(nullif((select e.destination from rate_deck_entries e where e.rate_plan_id = cd.rate_plan_id and e.prefix = cd.rate_prefix
                              order by e.effective_from desc limit 1), '') || ' (' || cd.rate_prefix || ')', cd.rate_prefix, 'unrated') as destination
       from cdrs cd
      where cd.tenant_id = $1 and cd.result = 'answered' and cd.end_at >= $2 and cd.end_at < $3`,
    args,
  )).rows.map((r): CallRow => ({ callId: r.call_id, destination: r.destination, billableSeconds: r.billable_seconds }));
}

/** What the tenant owed at the month's start and end, and the receivable account's transfers booked in it. */
async function receivableSide(c: PoolClient, args: Args): Promise<Pick<StatementData, 'owedOpeningFen' | 'owedClosingFen' | 'receivableMoves'>> {
  const racct = `select id from ledger_accounts where code = 'tenant:' || $1 || ':receivable'`;
  const owed = (await c.query<{ opening: bigint; closing: bigint }>(
    `select coalesce(sum(case when tr.debit_account_id = (${racct}) then tr.amount_fen else -tr.amount_fen end) filter (where tr.booked_at < $2), 0)::int8 as opening,
            coalesce(sum(case when tr.debit_account_id = (${racct}) then tr.amount_fen else -tr.amount_fen end) filter (where tr.booked_at < $3), 0)::int8 as closing
       from ledger_transfers tr where tr.debit_account_id = (${racct}) or tr.credit_account_id = (${racct})`,
    args,
  )).rows[0]!;
  // a late fee taken back (receivable_reversals) is a charge withdrawn: shown with its kind, negative, not as a payment
  const rmoves = (await c.query<{ id: bigint; debit: boolean; kind: string | null; reversed_kind: string | null; amount_fen: bigint; booked_at: Date; description: string | null; reference: string | null; memo: string | null }>(
    `select tr.id, tr.debit_account_id = (${racct}) as debit, r.kind, rr.kind as reversed_kind, tr.amount_fen, tr.booked_at, r.description, p.reference, tr.memo
       from ledger_transfers tr
       left join receivables r on r.transfer_id = tr.id
       left join payments p on p.transfer_id = tr.id
       left join receivable_reversals v on v.transfer_id = tr.id
       left join receivables rr on rr.id = v.receivable_id
      where (tr.debit_account_id = (${racct}) or tr.credit_account_id = (${racct})) and tr.booked_at >= $2 and tr.booked_at < $3
      order by tr.booked_at, tr.id`,
    args,
  )).rows.map((r): ReceivableMove => (r.reversed_kind !== null
    ? { transferId: r.id, side: 'issued', kind: r.reversed_kind, amountFen: -r.amount_fen, bookedAt: r.booked_at, description: r.memo ?? '', reference: null }
    : {
      transferId: r.id, side: r.debit ? 'issued' : 'paid', kind: r.debit ? (r.kind ?? 'charge') : 'payment', amountFen: r.amount_fen, bookedAt: r.booked_at,
      description: r.description ?? r.memo ?? '', reference: r.reference,
    }));
  return { owedOpeningFen: owed.opening, owedClosingFen: owed.closing, receivableMoves: rmoves };
}
