/**
 * Monthly bill of a tenant (contract art. 5.5): what moved in and out of its prepaid buckets in the ledger during the
 * calendar month in service.timezone, by transfer kind, with opening and closing balances, plus the month's calls
 * from the CDRs. closing = opening + credited - debited holds by construction of the double-entry ledger.
 * Ledger rows are dated when posted (a call charge when the call settled); CDRs by INVITE time, so a call that
 * spans midnight at month end is counted in the CDR summary of one month and charged in the next.
 */
import type { Queryable } from '../ledger/ledger.js';
import type { Actor, ServiceDeps } from './context.js';
import { resolveTenant } from './common.js';
import { InputError } from './errors.js';

export interface BillLine {
  kind: string;
  creditedFen: bigint; // into the tenant's buckets (top-ups, gifts, refunds)
  debitedFen: bigint; // out of them (call charges, rent, fees, expiry)
  transfers: number;
}

export interface CallSummary {
  result: string;
  calls: number;
  billableSeconds: bigint;
  chargeFen: bigint;
}

export interface MonthlyBill {
  month: string;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  openingBalanceFen: bigint;
  closingBalanceFen: bigint;
  creditedFen: bigint;
  debitedFen: bigint;
  lines: BillLine[];
  calls: CallSummary[];
}

/** The bill of a month (YYYY-MM) in service.timezone; a tenant actor only its own. */
export async function monthlyBill(deps: ServiceDeps, actor: Actor, tenant: string | bigint, month: string): Promise<MonthlyBill & { tenantId: bigint }> {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new InputError('month', 'YYYY-MM, e.g. 2026-11');
  if (Number(m[1]) < 2000 || Number(m[1]) > 2999) throw new InputError('month', 'the year must be between 2000 and 2999');
  const t = await resolveTenant(deps, actor, tenant);
  return { tenantId: t.id, ...(await billOf(deps.pool, t.id, month, deps.config.service.timezone)) };
}

async function billOf(db: Queryable, tenantId: bigint, month: string, timezone: string): Promise<MonthlyBill> {
  const p = await db.query<{ start: Date; stop: Date }>(
    `select (($1 || '-01')::date)::timestamp at time zone $2 as start,
            ((($1 || '-01')::date) + interval '1 month')::timestamp at time zone $2 as stop`,
    [month, timezone],
  );
  const { start, stop } = p.rows[0]!;
  // The tenant's bucket accounts; a transfer between two of them counts on both sides.
  const acct = `select a.id from ledger_accounts a join balance_buckets b on b.id = a.bucket_id where b.tenant_id = $1`;
  const bal = await db.query<{ opening: bigint; closing: bigint }>(
    `with acct as (${acct}), moves as (
       select t.created_at, t.amount_fen * ((t.credit_account_id in (select id from acct))::int
                                          - (t.debit_account_id in (select id from acct))::int) as delta
         from ledger_transfers t
        where (t.credit_account_id in (select id from acct) or t.debit_account_id in (select id from acct))
          and t.created_at < $3)
     select coalesce(sum(delta) filter (where created_at < $2), 0)::bigint as opening,
            coalesce(sum(delta), 0)::bigint as closing
       from moves`,
    [tenantId, start, stop],
  );
  const lines = await db.query<{ kind: string; credited: bigint; debited: bigint; n: bigint }>(
    `with acct as (${acct})
     select t.kind,
            coalesce(sum(t.amount_fen) filter (where t.credit_account_id in (select id from acct)), 0)::bigint as credited,
            coalesce(sum(t.amount_fen) filter (where t.debit_account_id in (select id from acct)), 0)::bigint as debited,
            count(*)::bigint as n
       from ledger_transfers t
      where (t.credit_account_id in (select id from acct) or t.debit_account_id in (select id from acct))
        and t.created_at >= $2 and t.created_at < $3
      group by t.kind order by t.kind`,
    [tenantId, start, stop],
  );
  const calls = await db.query<{ result: string; n: bigint; secs: bigint; charge: bigint }>(
    `select result, count(*)::bigint as n, coalesce(sum(billable_seconds), 0)::bigint as secs, coalesce(sum(charge_fen), 0)::bigint as charge
       from cdrs where tenant_id = $1 and invite_at >= $2 and invite_at < $3
      group by result order by result`,
    [tenantId, start, stop],
  );
  const out: BillLine[] = lines.rows.map((l) => ({ kind: l.kind, creditedFen: l.credited, debitedFen: l.debited, transfers: Number(l.n) }));
  return {
    month,
    timezone,
    periodStart: start,
    periodEnd: stop,
    openingBalanceFen: bal.rows[0]!.opening,
    closingBalanceFen: bal.rows[0]!.closing,
    creditedFen: out.reduce((s, l) => s + l.creditedFen, 0n),
    debitedFen: out.reduce((s, l) => s + l.debitedFen, 0n),
    lines: out,
    calls: calls.rows.map((c) => ({ result: c.result, calls: Number(c.n), billableSeconds: c.secs, chargeFen: c.charge })),
  };
}
