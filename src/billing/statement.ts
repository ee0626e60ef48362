/**
 * The tenant's monthly statement (contract art. 3.4 full legal name, art. 5.5 bills), assembled from ledger rows
 * without I/O: the ledger is the only source of every amount, so each total ties to it to the fen by construction,
 * and `assertTies` re-checks the identities before a statement is shown. The month is a calendar month in
 * service.timezone; a ledger row belongs to the month of its booked_at (a call: its end; a payment: its receipt).
 */
import { Decimal } from 'decimal.js';
import { fenToCny } from '../money/units.js';

export type BucketKind = 'paid' | 'gift';

/** A ledger transfer into (+) or out of (-) one of the tenant's buckets, booked in the month. */
export interface BucketMove {
  transferId: bigint;
  kind: string; // ledger transfer kind
  bucketKind: BucketKind;
  signedFen: bigint; // + into the bucket, - out of it
  bookedAt: Date;
  memo: string | null;
  callId: string | null;
}

/** A call of the month (answered, ended in the month) with its rating prefix and destination. */
export interface CallRow {
  callId: string;
  destination: string;
  billableSeconds: number;
}

/** A ledger transfer on the tenant's receivable account, booked in the month. */
export interface ReceivableMove {
  transferId: bigint;
  side: 'issued' | 'paid';
  kind: string; // receivable kind (order, rent, late_fee, early_termination) or 'payment'
  amountFen: bigint; // issued: negative for a charge taken back (a late fee a back-dated payment made too high)
  bookedAt: Date;
  description: string;
  reference: string | null; // payments
}

/** Who and which month: the same on the input and the statement. */
export interface StatementHead {
  tenant: { id: bigint; code: string; legalName: string };
  seller: { name: string; taxId: string };
  month: string;
  timeZone: string;
  periodStart: Date;
  periodEnd: Date;
  generatedAt: Date;
}

export interface StatementInput extends StatementHead {
  opening: Record<BucketKind, bigint>;
  closing: Record<BucketKind, bigint>;
  moves: BucketMove[];
  calls: CallRow[];
  owedOpeningFen: bigint;
  owedClosingFen: bigint;
  receivableMoves: ReceivableMove[];
}

interface CallGroup {
  destination: string;
  calls: number;
  billedSeconds: number;
  billedMinutes: string; // seconds / 60, 2 decimals, half-up (display only; amounts come from the ledger)
  amountFen: bigint;
}

interface Line {
  at: Date;
  description: string;
  amountFen: bigint;
  transferId: bigint;
}

export interface Statement extends StatementHead {
  balances: Record<BucketKind, { openingFen: bigint; closingFen: bigint }>;
  topUps: Line[]; // paid credit in (top-ups, paid orders' packages)
  gifts: Line[];
  calls: { groups: CallGroup[]; totalFen: bigint; totalCalls: number; chargeTransfers: number };
  rent: Line[]; // rent receivables issued in the month
  lateFees: Line[];
  otherCharges: Line[]; // order packages, early-termination fee
  adjustments: Line[]; // signed: + to the tenant
  refunds: Line[]; // paid credit returned to the tenant (out of its balance)
  expired: Line[]; // balance cleared at expiry / period end (art. 7.2)
  receivables: { openingOwedFen: bigint; issuedFen: bigint; paidFen: bigint; closingOwedFen: bigint };
  payments: { at: Date; reference: string; amountFen: bigint; transferId: bigint }[];
  totals: {
    creditedFen: bigint; // into the balance: top-ups + gifts + positive adjustments
    debitedFen: bigint; // out of it: calls + refunds + expired + negative adjustments
    chargesFen: bigint; // receivables issued: rent + late fees + other charges
  };
}

class StatementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatementError';
  }
}

const sum = (xs: { amountFen: bigint }[]): bigint => xs.reduce((s, x) => s + x.amountFen, 0n);

export function minutes(seconds: number): string {
  return new Decimal(seconds).div(60).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
}

export function assembleStatement(i: StatementInput): Statement {
  const line = (m: BucketMove, description: string): Line => ({ at: m.bookedAt, description, amountFen: m.signedFen < 0n ? -m.signedFen : m.signedFen, transferId: m.transferId });
  const topUps = i.moves.filter((m) => m.kind === 'top_up').map((m) => line(m, m.memo ?? 'top-up'));
  const gifts = i.moves.filter((m) => m.kind === 'gift').map((m) => line(m, m.memo ?? 'gift credit'));
  const refunds = i.moves.filter((m) => m.kind === 'refund').map((m) => line(m, m.memo ?? 'refund'));
  const expired = i.moves.filter((m) => m.kind === 'expiry_clear').map((m) => line(m, m.memo ?? 'balance cleared'));
  const adjustments = i.moves.filter((m) => m.kind === 'adjustment').map((m) => ({ at: m.bookedAt, description: m.memo ?? 'adjustment', amountFen: m.signedFen, transferId: m.transferId }));
  const known = new Set(['top_up', 'gift', 'refund', 'expiry_clear', 'adjustment', 'call_charge']);
  const odd = i.moves.find((m) => !known.has(m.kind));
  if (odd) throw new StatementError(`transfer ${odd.transferId} of kind ${odd.kind} moves a tenant balance; statements do not know that kind`);

  // calls: the ledger's charges per call, grouped by the CDR's destination
  const charged = new Map<string, bigint>();
  for (const m of i.moves.filter((x) => x.kind === 'call_charge')) {
    const k = m.callId ?? `transfer:${m.transferId}`;
    charged.set(k, (charged.get(k) ?? 0n) - m.signedFen);
  }
  const groups = new Map<string, CallGroup>();
  const group = (d: string) => {
    let g = groups.get(d);
    if (!g) groups.set(d, (g = { destination: d, calls: 0, billedSeconds: 0, billedMinutes: '0.00', amountFen: 0n }));
    return g;
  };
  for (const c of i.calls) {
    const g = group(c.destination);
    g.calls += 1;
    g.billedSeconds += c.billableSeconds;
    g.amountFen += charged.get(c.callId) ?? 0n;
    charged.delete(c.callId);
  }
  // a charge whose CDR is not in this month's list (should not happen: both are booked at the call's end) stays visible
  for (const [, fen] of charged) {
    const g = group('(charge without a CDR this month)');
    g.calls += 1;
    g.amountFen += fen;
  }
  const callGroups = [...groups.values()].map((g) => ({ ...g, billedMinutes: minutes(g.billedSeconds) })).sort((a, b) => (a.destination < b.destination ? -1 : 1));

  const issued = i.receivableMoves.filter((r) => r.side === 'issued');
  const rl = (r: ReceivableMove): Line => ({ at: r.bookedAt, description: r.description, amountFen: r.amountFen, transferId: r.transferId });
  const rent = issued.filter((r) => r.kind === 'rent').map(rl);
  const lateFees = issued.filter((r) => r.kind === 'late_fee').map(rl);
  const otherCharges = issued.filter((r) => r.kind !== 'rent' && r.kind !== 'late_fee').map(rl);
  const payments = i.receivableMoves.filter((r) => r.side === 'paid').map((r) => ({ at: r.bookedAt, reference: r.reference ?? '', amountFen: r.amountFen, transferId: r.transferId }));
  const callsTotal = callGroups.reduce((s, g) => s + g.amountFen, 0n);
  const posAdj = adjustments.filter((a) => a.amountFen > 0n).reduce((s, a) => s + a.amountFen, 0n);
  const negAdj = -adjustments.filter((a) => a.amountFen < 0n).reduce((s, a) => s + a.amountFen, 0n);
  const s: Statement = {
    tenant: i.tenant, seller: i.seller, month: i.month, timeZone: i.timeZone, periodStart: i.periodStart, periodEnd: i.periodEnd, generatedAt: i.generatedAt,
    balances: {
      paid: { openingFen: i.opening.paid, closingFen: i.closing.paid },
      gift: { openingFen: i.opening.gift, closingFen: i.closing.gift },
    },
    topUps, gifts,
    calls: { groups: callGroups, totalFen: callsTotal, totalCalls: callGroups.reduce((n, g) => n + g.calls, 0), chargeTransfers: i.moves.filter((m) => m.kind === 'call_charge').length },
    rent, lateFees, otherCharges, adjustments, refunds, expired,
    receivables: { openingOwedFen: i.owedOpeningFen, issuedFen: sum(issued), paidFen: sum(payments), closingOwedFen: i.owedClosingFen },
    payments,
    totals: {
      creditedFen: sum(topUps) + sum(gifts) + posAdj,
      debitedFen: callsTotal + sum(refunds) + sum(expired) + negAdj,
      chargesFen: sum(rent) + sum(lateFees) + sum(otherCharges),
    },
  };
  assertTies(s, i);
  return s;
}

/**
 * The identities every statement satisfies (else StatementError, never a wrong bill): per bucket kind, opening +
 * movements of the month = closing; all movements = credited - debited; owed: opening + issued - paid = closing.
 */
export function assertTies(s: Statement, i: StatementInput): void {
  for (const k of ['paid', 'gift'] as const) {
    const moved = i.moves.filter((m) => m.bucketKind === k).reduce((t, m) => t + m.signedFen, 0n);
    if (i.opening[k] + moved !== i.closing[k]) throw new StatementError(`${k} balance does not tie: opening ${i.opening[k]} + moves ${moved} != closing ${i.closing[k]}`);
  }
  const moved = i.moves.reduce((t, m) => t + m.signedFen, 0n);
  if (moved !== s.totals.creditedFen - s.totals.debitedFen) throw new StatementError(`balance moves ${moved} != credited ${s.totals.creditedFen} - debited ${s.totals.debitedFen}`);
  const r = s.receivables;
  if (r.openingOwedFen + r.issuedFen - r.paidFen !== r.closingOwedFen) throw new StatementError(`receivables do not tie: ${r.openingOwedFen} + ${r.issuedFen} - ${r.paidFen} != ${r.closingOwedFen}`);
}

const csvCell = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The statement as CSV: section,date,description,amount_cny (amounts signed as the tenant sees them). */
export function statementCsv(s: Statement): string {
  const rows: string[][] = [['section', 'date', 'description', 'amount_cny']];
  const d = (x: Date) => x.toISOString();
  rows.push(['tenant', '', `${s.tenant.legalName} (${s.tenant.code})`, '']);
  rows.push(['period', d(s.periodStart), `${s.month} ${s.timeZone} until ${d(s.periodEnd)}`, '']);
  for (const k of ['paid', 'gift'] as const) {
    rows.push([`opening_${k}`, d(s.periodStart), `${k} balance`, fenToCny(s.balances[k].openingFen)]);
  }
  for (const l of s.topUps) rows.push(['top_up', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const l of s.gifts) rows.push(['gift', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const g of s.calls.groups) rows.push(['calls', '', `${g.destination}: ${g.calls} calls, ${g.billedMinutes} min`, fenToCny(-g.amountFen)]);
  for (const l of s.adjustments) rows.push(['adjustment', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const l of s.refunds) rows.push(['refund', d(l.at), l.description, fenToCny(-l.amountFen)]);
  for (const l of s.expired) rows.push(['expired', d(l.at), l.description, fenToCny(-l.amountFen)]);
  for (const k of ['paid', 'gift'] as const) rows.push([`closing_${k}`, d(s.periodEnd), `${k} balance`, fenToCny(s.balances[k].closingFen)]);
  rows.push(['owed_opening', d(s.periodStart), 'receivables outstanding', fenToCny(s.receivables.openingOwedFen)]);
  for (const l of s.rent) rows.push(['rent', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const l of s.lateFees) rows.push(['late_fee', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const l of s.otherCharges) rows.push(['charge', d(l.at), l.description, fenToCny(l.amountFen)]);
  for (const p of s.payments) rows.push(['payment', d(p.at), p.reference, fenToCny(-p.amountFen)]);
  rows.push(['owed_closing', d(s.periodEnd), 'receivables outstanding', fenToCny(s.receivables.closingOwedFen)]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}
