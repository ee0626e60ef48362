/**
 * Receivables and payments in PostgreSQL (contract art. 3.2). Each receivable (order, rent, late fee,
 * early-termination fee) is one ledger transfer tenant:<t>:receivable → revenue (or prepaid_billed for the prepaid
 * packages of an order) plus its row in `receivables`; each payment is one transfer cash → tenant:<t>:receivable plus
 * its allocations, oldest receivable first (src/billing/allocation.ts). When an order's prepaid receivable is fully
 * paid its packages are credited (prepaid_billed → a new paid bucket), once, under the order's ledger key.
 * Everything here runs inside the caller's transaction when given a PoolClient.
 */
import { postTransfers, systemAccount, tenantReceivableAccount, type Queryable, type SystemAccountCode, type TransferKind } from '../ledger/ledger.js';
import { allocate, oldestFirst } from '../billing/allocation.js';
import { addMonths } from '../calendar/zone.js';
import { creditTenant, type Credit } from './credits.js';
import { RuleError } from './rules.js';
import { inTransaction } from './tx.js';

export type ReceivableKind = 'order' | 'rent' | 'late_fee' | 'early_termination';

export interface Receivable {
  id: bigint;
  tenantId: bigint;
  kind: ReceivableKind;
  amountFen: bigint;
  paidFen: bigint;
  outstandingFen: bigint;
  issuedAt: Date;
  dueAt: Date;
  accruesLateFee: boolean;
  orderId: bigint | null;
  numberId: bigint | null;
  parentId: bigint | null;
  periodStart: Date | null;
  periodEnd: Date | null;
  feeDay: string | null;
  description: string;
  transferId: bigint;
}

const LEDGER: Record<ReceivableKind, { credit: SystemAccountCode; kind: TransferKind }> = {
  order: { credit: 'prepaid_billed', kind: 'order' },
  rent: { credit: 'revenue:rental', kind: 'rental' },
  late_fee: { credit: 'revenue:late_fee', kind: 'late_fee' },
  early_termination: { credit: 'revenue:early_termination', kind: 'early_termination' },
};

export interface NewReceivable {
  tenantId: bigint;
  kind: ReceivableKind;
  amountFen: bigint;
  issuedAt: Date;
  dueAt: Date;
  key: string; // ledger idempotency key: the same key again returns the first receivable
  description: string;
  orderId?: bigint | null;
  numberId?: bigint | null;
  parentId?: bigint | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  feeDay?: string | null;
}

interface Row {
  id: bigint; tenant_id: bigint; kind: ReceivableKind; amount_fen: bigint; paid: bigint; issued_at: Date; due_at: Date;
  accrues_late_fee: boolean; order_id: bigint | null; number_id: bigint | null; parent_id: bigint | null;
  period_start: Date | null; period_end: Date | null; fee_day: string | null; description: string; transfer_id: bigint;
}
const SELECT = `select r.id, r.tenant_id, r.kind, r.amount_fen, r.issued_at, r.due_at, r.accrues_late_fee, r.order_id, r.number_id,
       r.parent_id, r.period_start, r.period_end, to_char(r.fee_day, 'YYYY-MM-DD') as fee_day, r.description, r.transfer_id,
       coalesce((select sum(a.amount_fen) from payment_allocations a where a.receivable_id = r.id), 0)::int8 as paid
  from receivables r`;
const toReceivable = (r: Row): Receivable => ({
  id: r.id, tenantId: r.tenant_id, kind: r.kind, amountFen: r.amount_fen, paidFen: r.paid, outstandingFen: r.amount_fen - r.paid,
  issuedAt: r.issued_at, dueAt: r.due_at, accruesLateFee: r.accrues_late_fee, orderId: r.order_id, numberId: r.number_id,
  parentId: r.parent_id, periodStart: r.period_start, periodEnd: r.period_end, feeDay: r.fee_day, description: r.description, transferId: r.transfer_id,
});

/** Post a receivable (idempotent by key). Late fees bear no late fee themselves. */
export async function issueReceivable(db: Queryable, n: NewReceivable): Promise<{ receivable: Receivable; duplicate: boolean }> {
  if (n.amountFen <= 0n) throw new RuleError('a receivable must be > 0');
  return inTransaction(db, async (c) => {
    const l = LEDGER[n.kind];
    const { results } = await postTransfers(c, [{
      idempotencyKey: n.key, debitAccountId: await tenantReceivableAccount(c, n.tenantId), creditAccountId: await systemAccount(c, l.credit),
      amountFen: n.amountFen, kind: l.kind, tenantId: n.tenantId, memo: n.description, bookedAt: n.issuedAt,
    }]);
    const transferId = results[0]!.id;
    if (!results[0]!.duplicate) {
      await c.query(
        `insert into receivables (tenant_id, kind, amount_fen, issued_at, due_at, accrues_late_fee, order_id, number_id, parent_id,
                                  period_start, period_end, fee_day, description, transfer_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [n.tenantId.toString(), n.kind, n.amountFen.toString(), n.issuedAt, n.dueAt, n.kind !== 'late_fee', n.orderId?.toString() ?? null,
         n.numberId?.toString() ?? null, n.parentId?.toString() ?? null, n.periodStart ?? null, n.periodEnd ?? null, n.feeDay ?? null,
         n.description, transferId.toString()],
      );
    }
    const r = (await c.query<Row>(`${SELECT} where r.transfer_id = $1`, [transferId.toString()])).rows[0];
    if (!r) throw new RuleError(`ledger key ${JSON.stringify(n.key)} is used by a transfer that is not a receivable`);
    return { receivable: toReceivable(r), duplicate: results[0]!.duplicate };
  });
}

/** A tenant's receivables, oldest first; `open` = only those with something outstanding. */
export async function listReceivables(db: Queryable, tenantId: bigint, opts: { open?: boolean; orderId?: bigint } = {}): Promise<Receivable[]> {
  const rows = (await db.query<Row>(`${SELECT} where r.tenant_id = $1 ${opts.orderId !== undefined ? 'and r.order_id = $2' : ''}`,
    opts.orderId !== undefined ? [tenantId.toString(), opts.orderId.toString()] : [tenantId.toString()])).rows.map(toReceivable);
  return oldestFirst(opts.open ? rows.filter((r) => r.outstandingFen > 0n) : rows);
}

export interface Payment {
  id: bigint;
  tenantId: bigint;
  reference: string;
  amountFen: bigint;
  receivedAt: Date;
  memo: string | null;
  transferId: bigint;
}

export interface PaymentResult {
  payment: Payment;
  duplicate: boolean; // this reference was already recorded (nothing changed)
  allocations: { receivableId: bigint; kind: ReceivableKind; description: string; amountFen: bigint; settled: boolean }[];
  /** prepaid packages credited because this payment settled their order (Redis must follow: syncCredit) */
  credits: Credit[];
  outstandingFen: bigint; // what the tenant still owes after this payment
}

export const PAYMENT_REFERENCE = /^[\x21-\x7e]{1,150}$/;

interface PaymentRow { id: bigint; tenant_id: bigint; reference: string; amount_fen: bigint; received_at: Date; memo: string | null; transfer_id: bigint }
const toPayment = (r: PaymentRow): Payment => ({
  id: r.id, tenantId: r.tenant_id, reference: r.reference, amountFen: r.amount_fen, receivedAt: r.received_at, memo: r.memo, transferId: r.transfer_id,
});

export interface PaymentRequest {
  tenantId: bigint;
  amountFen: bigint;
  reference: string; // the bank/cash reference: a payment is recorded once per reference
  receivedAt: Date;
  memo?: string | null;
  /** settle only these receivables (a payment that names its debts); default every open one, oldest first */
  receivableIds?: bigint[];
}

/**
 * Record a payment and settle receivables oldest first. Idempotent by reference: the same reference again returns
 * the first payment (duplicate: true); with another tenant or amount it is refused. A payment larger than what is
 * owed is refused (nothing recorded): the rest is a top-up, recorded with `softswitch top-up`.
 */
export async function recordPayment(db: Queryable, req: PaymentRequest, timeZone: string): Promise<PaymentResult> {
  if (!PAYMENT_REFERENCE.test(req.reference)) throw new RuleError('payment reference must be 1-150 printable characters without spaces');
  if (req.amountFen <= 0n) throw new RuleError('payment amount must be > 0');
  return inTransaction(db, async (c) => {
    // one payment of a tenant at a time: allocations read what earlier payments left open
    const t = await c.query('select 1 from tenants where id = $1 for update', [req.tenantId.toString()]);
    if (t.rowCount !== 1) throw new RuleError(`no tenant ${req.tenantId}`);
    const prior = (await c.query<PaymentRow>('select id, tenant_id, reference, amount_fen, received_at, memo, transfer_id from payments where reference = $1', [req.reference])).rows[0];
    if (prior) {
      if (prior.tenant_id !== req.tenantId || prior.amount_fen !== req.amountFen) {
        throw new RuleError(`payment reference ${JSON.stringify(req.reference)} was already recorded for ${prior.amount_fen} fen (tenant id ${prior.tenant_id})`);
      }
      return { payment: toPayment(prior), duplicate: true, allocations: [], credits: [], outstandingFen: await owedFen(c, req.tenantId) };
    }
    let open = await listReceivables(c, req.tenantId, { open: true });
    if (req.receivableIds) {
      const want = new Set(req.receivableIds.map(String));
      open = open.filter((r) => want.has(r.id.toString()));
    }
    const owed = open.reduce((s, r) => s + r.outstandingFen, 0n);
    const { allocations, leftoverFen } = allocate(req.amountFen, open);
    if (leftoverFen > 0n) {
      throw new RuleError(`payment of ${req.amountFen} fen is more than the ${owed} fen owed${req.receivableIds ? ' on the named receivables' : ''}; record the rest with \`softswitch top-up\``);
    }
    const { posted } = await postTransfers(c, [{
      idempotencyKey: `payment:${req.reference}`, debitAccountId: await systemAccount(c, 'cash'), creditAccountId: await tenantReceivableAccount(c, req.tenantId),
      amountFen: req.amountFen, kind: 'payment', tenantId: req.tenantId, memo: req.memo ?? `payment ${req.reference}`, bookedAt: req.receivedAt,
    }]);
    const p = (await c.query<PaymentRow>(
      `insert into payments (tenant_id, reference, amount_fen, received_at, memo, transfer_id) values ($1, $2, $3, $4, $5, $6)
       returning id, tenant_id, reference, amount_fen, received_at, memo, transfer_id`,
      [req.tenantId.toString(), req.reference, req.amountFen.toString(), req.receivedAt, req.memo ?? null, posted[0]!.toString()],
    )).rows[0]!;
    const byId = new Map(open.map((r) => [r.id.toString(), r]));
    const out: PaymentResult['allocations'] = [];
    const settledOrders = new Set<string>();
    for (const a of allocations) {
      await c.query('insert into payment_allocations (payment_id, receivable_id, amount_fen) values ($1, $2, $3)', [p.id.toString(), a.id.toString(), a.amountFen.toString()]);
      const r = byId.get(a.id.toString())!;
      const settled = a.amountFen === r.outstandingFen;
      out.push({ receivableId: a.id, kind: r.kind, description: r.description, amountFen: a.amountFen, settled });
      if (settled && r.orderId !== null) settledOrders.add(r.orderId.toString());
    }
    const credits: Credit[] = [];
    for (const orderId of settledOrders) {
      const credit = await settleOrder(c, BigInt(orderId), req.receivedAt, timeZone);
      if (credit) credits.push(credit);
    }
    return { payment: toPayment(p), duplicate: false, allocations: out, credits, outstandingFen: await owedFen(c, req.tenantId) };
  });
}

/** What a tenant owes now (sum of outstanding receivables). */
export async function owedFen(db: Queryable, tenantId: bigint): Promise<bigint> {
  const r = await db.query<{ s: bigint }>(
    `select coalesce(sum(r.amount_fen), 0)::int8 - coalesce((select sum(a.amount_fen) from payment_allocations a join receivables x on x.id = a.receivable_id where x.tenant_id = $1), 0)::int8 as s
       from receivables r where r.tenant_id = $1`,
    [tenantId.toString()],
  );
  return r.rows[0]!.s;
}

/**
 * After a payment settled a receivable of an order: once the order's prepaid receivable is fully paid, credit its
 * packages (prepaid_billed → new paid bucket, key order:<orderNo>:prepaid); once all of the order's receivables are
 * paid, stamp orders.paid_at.
 */
async function settleOrder(c: Queryable, orderId: bigint, at: Date, timeZone: string): Promise<Credit | null> {
  const o = (await c.query<{ tenant_id: bigint; order_no: string; activated_at: Date | null; signed_at: Date; validity_months: number; paid_at: Date | null }>(
    'select tenant_id, order_no, activated_at, signed_at, validity_months, paid_at from orders where id = $1 for update', [orderId.toString()],
  )).rows[0]!;
  const rs = await listReceivables(c, o.tenant_id, { orderId });
  if (o.paid_at === null && rs.every((r) => r.outstandingFen === 0n)) {
    await c.query('update orders set paid_at = $2 where id = $1', [orderId.toString(), at]);
  }
  const prepaid = rs.find((r) => r.kind === 'order');
  if (!prepaid || prepaid.outstandingFen !== 0n) return null;
  const activatedAt = o.activated_at ?? o.signed_at;
  const credit = await creditTenant(c, {
    tenantId: o.tenant_id, kind: 'paid', amountFen: prepaid.amountFen, validFrom: activatedAt, expiresAt: addMonths(activatedAt, o.validity_months, timeZone),
    idempotencyKey: `order:${o.order_no}:prepaid`, sourceOrderId: orderId, memo: `order ${o.order_no} prepaid packages`,
    fundingAccountId: await systemAccount(c, 'prepaid_billed'), bookedAt: at,
  });
  return credit.duplicate ? null : credit;
}

export async function listPayments(db: Queryable, tenantId: bigint): Promise<Payment[]> {
  return (await db.query<PaymentRow>('select id, tenant_id, reference, amount_fen, received_at, memo, transfer_id from payments where tenant_id = $1 order by received_at, id', [tenantId.toString()])).rows.map(toPayment);
}
