/**
 * The monthly bill (GET /v1/tenants/{t}/bills/{month}): **deprecated**, kept for existing clients; the statement
 * (GET /v1/tenants/{t}/statements/{month}, `softswitch bill show`) is its successor. It is a summary derived from
 * the statement (src/billing/statement.ts), so there is one rule for which month a ledger transfer belongs to (its
 * booked_at in service.timezone), what counts as credited and debited, and how the balance ties: opening + credited
 * - debited = closing, to the fen, checked by assertTies before either is shown.
 */
import { showStatement, type Statement } from './statements.js';
import type { Actor, ServiceDeps } from './context.js';
import { resolveTenant } from './common.js';
import { InputError } from './errors.js';

interface BillLine {
  kind: string; // ledger transfer kind
  creditedFen: bigint; // into the tenant's buckets (top-ups, gifts, positive adjustments)
  debitedFen: bigint; // out of them (call charges, refunds, expiry, negative adjustments)
  transfers: number;
}

interface BillCalls {
  destination: string;
  calls: number;
  billedSeconds: number;
  chargeFen: bigint;
}

interface MonthlyBill {
  tenantId: bigint;
  month: string;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  openingBalanceFen: bigint;
  closingBalanceFen: bigint;
  creditedFen: bigint;
  debitedFen: bigint;
  lines: BillLine[]; // per transfer kind with any transfer in the month, by kind
  calls: BillCalls[]; // the statement's answered calls by destination
}

const sum = (xs: { amountFen: bigint }[]): bigint => xs.reduce((t, x) => t + x.amountFen, 0n);

/** The bill as a pure projection of a statement (no amount computed here that the statement does not hold). */
function billFromStatement(s: Statement): MonthlyBill {
  const adj = s.adjustments;
  const lines: BillLine[] = [
    { kind: 'adjustment', creditedFen: sum(adj.filter((a) => a.amountFen > 0n)), debitedFen: -sum(adj.filter((a) => a.amountFen < 0n)), transfers: adj.length },
    { kind: 'call_charge', creditedFen: 0n, debitedFen: s.calls.totalFen, transfers: s.calls.chargeTransfers },
    { kind: 'expiry_clear', creditedFen: 0n, debitedFen: sum(s.expired), transfers: s.expired.length },
    { kind: 'gift', creditedFen: sum(s.gifts), debitedFen: 0n, transfers: s.gifts.length },
    { kind: 'refund', creditedFen: 0n, debitedFen: sum(s.refunds), transfers: s.refunds.length },
    { kind: 'top_up', creditedFen: sum(s.topUps), debitedFen: 0n, transfers: s.topUps.length },
  ].filter((l) => l.transfers > 0);
  return {
    tenantId: s.tenant.id,
    month: s.month,
    timezone: s.timeZone,
    periodStart: s.periodStart,
    periodEnd: s.periodEnd,
    openingBalanceFen: s.balances.paid.openingFen + s.balances.gift.openingFen,
    closingBalanceFen: s.balances.paid.closingFen + s.balances.gift.closingFen,
    creditedFen: s.totals.creditedFen,
    debitedFen: s.totals.debitedFen,
    lines,
    calls: s.calls.groups.map((g) => ({ destination: g.destination, calls: g.calls, billedSeconds: g.billedSeconds, chargeFen: g.amountFen })),
  };
}

/** The bill of a month (YYYY-MM) in service.timezone; a tenant actor only its own (another's: NotFoundError). */
export async function monthlyBill(deps: ServiceDeps, actor: Actor, tenant: string | bigint, month: string): Promise<MonthlyBill> {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new InputError('month', 'YYYY-MM, e.g. 2026-11');
  if (Number(m[1]) < 2000 || Number(m[1]) > 2999) throw new InputError('month', 'the year must be between 2000 and 2999');
  const t = await resolveTenant(deps, actor, tenant);
  return billFromStatement(await showStatement(deps, actor, { tenant: `#${t.id}`, month }));
}
