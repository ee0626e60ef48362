/**
 * SQL of receivables and payments (receivables, payments, payment_allocations, receivable_reversals; contract art.
 * 3.2). The rules (what is issued, allocation oldest first, late fees taken back, the ledger transfers) are
 * src/tenants/receivables.ts's. Outstanding = amount - allocations - reversals.
 */
import type { Queryable } from '../db/tx.js';

export type ReceivableKind = 'order' | 'rent' | 'late_fee' | 'early_termination';

export interface Receivable {
  id: bigint;
  tenantId: bigint;
  kind: ReceivableKind;
  amountFen: bigint;
  paidFen: bigint;
  /** taken back by correcting transfers (a late fee a back-dated payment made too high) */
  reversedFen: bigint;
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

interface Row {
  id: bigint; tenant_id: bigint; kind: ReceivableKind; amount_fen: bigint; paid: bigint; reversed: bigint; issued_at: Date; due_at: Date;
  accrues_late_fee: boolean; order_id: bigint | null; number_id: bigint | null; parent_id: bigint | null;
  period_start: Date | null; period_end: Date | null; fee_day: string | null; description: string; transfer_id: bigint;
}
const SELECT = `select r.id, r.tenant_id, r.kind, r.amount_fen, r.issued_at, r.due_at, r.accrues_late_fee, r.order_id, r.number_id,
       r.parent_id, r.period_start, r.period_end, to_char(r.fee_day, 'YYYY-MM-DD') as fee_day, r.description, r.transfer_id,
       coalesce((select sum(a.amount_fen) from payment_allocations a where a.receivable_id = r.id), 0)::int8 as paid,
       coalesce((select sum(v.amount_fen) from receivable_reversals v where v.receivable_id = r.id), 0)::int8 as reversed
  from receivables r`;
const toReceivable = (r: Row): Receivable => ({
  id: r.id, tenantId: r.tenant_id, kind: r.kind, amountFen: r.amount_fen, paidFen: r.paid, reversedFen: r.reversed, outstandingFen: r.amount_fen - r.paid - r.reversed,
  issuedAt: r.issued_at, dueAt: r.due_at, accruesLateFee: r.accrues_late_fee, orderId: r.order_id, numberId: r.number_id,
  parentId: r.parent_id, periodStart: r.period_start, periodEnd: r.period_end, feeDay: r.fee_day, description: r.description, transferId: r.transfer_id,
});

type NewReceivableRow = Omit<Receivable, 'id' | 'paidFen' | 'reversedFen' | 'outstandingFen'>;

export async function insertReceivable(c: Queryable, n: NewReceivableRow): Promise<void> {
  await c.query(
    `insert into receivables (tenant_id, kind, amount_fen, issued_at, due_at, accrues_late_fee, order_id, number_id, parent_id,
                              period_start, period_end, fee_day, description, transfer_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [n.tenantId.toString(), n.kind, n.amountFen.toString(), n.issuedAt, n.dueAt, n.accruesLateFee, n.orderId?.toString() ?? null,
     n.numberId?.toString() ?? null, n.parentId?.toString() ?? null, n.periodStart, n.periodEnd, n.feeDay, n.description, n.transferId.toString()],
  );
}

/** The receivable a ledger transfer posted, or null (the transfer is no receivable). */
export async function receivableOfTransfer(db: Queryable, transferId: bigint): Promise<Receivable | null> {
  const r = (await db.query<Row>(`${SELECT} where r.transfer_id = $1`, [transferId.toString()])).rows[0];
  return r ? toReceivable(r) : null;
}

/** A tenant's receivables (of one order when given), in no particular order. */
export async function receivablesOf(db: Queryable, tenantId: bigint, orderId?: bigint): Promise<Receivable[]> {
  return (await db.query<Row>(`${SELECT} where r.tenant_id = $1 ${orderId !== undefined ? 'and r.order_id = $2' : ''}`,
    orderId !== undefined ? [tenantId.toString(), orderId.toString()] : [tenantId.toString()])).rows.map(toReceivable);
}

/** The amount of one receivable, or null. */
export async function receivableAmount(db: Queryable, id: bigint): Promise<bigint | null> {
  return (await db.query<{ amount_fen: bigint }>('select amount_fen from receivables where id = $1', [id.toString()])).rows[0]?.amount_fen ?? null;
}

/** Start times (epoch ms) of the rent periods billed per number, as "<numberId>/<ms>". */
export async function billedRentPeriods(db: Queryable, tenantId: bigint): Promise<Set<string>> {
  return new Set((await db.query<{ k: string }>(
    `select number_id || '/' || (extract(epoch from period_start) * 1000)::int8 as k from receivables where tenant_id = $1 and kind = 'rent'`, [tenantId.toString()],
  )).rows.map((r) => r.k));
}

/** What a tenant owes now (sum of outstanding receivables). */
export async function owedFen(db: Queryable, tenantId: bigint): Promise<bigint> {
  const r = await db.query<{ s: bigint }>(
    `select coalesce(sum(r.amount_fen), 0)::int8
            - coalesce((select sum(a.amount_fen) from payment_allocations a join receivables x on x.id = a.receivable_id where x.tenant_id = $1), 0)::int8
            - coalesce((select sum(v.amount_fen) from receivable_reversals v join receivables x on x.id = v.receivable_id where x.tenant_id = $1), 0)::int8 as s
       from receivables r where r.tenant_id = $1`,
    [tenantId.toString()],
  );
  return r.rows[0]!.s;
}

/** Tenants with something outstanding on their receivables. */
export async function owingTenants(db: Queryable): Promise<Set<bigint>> {
  const { rows } = await db.query<{ tenant_id: bigint }>(
    `select r.tenant_id from receivables r
       left join (select receivable_id, sum(amount_fen) as paid from payment_allocations group by receivable_id) a on a.receivable_id = r.id
       left join (select receivable_id, sum(amount_fen) as reversed from receivable_reversals group by receivable_id) v on v.receivable_id = r.id
      group by r.tenant_id having sum(r.amount_fen - coalesce(a.paid, 0) - coalesce(v.reversed, 0)) > 0`,
  );
  return new Set(rows.map((r) => r.tenant_id));
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

interface PaymentRow { id: bigint; tenant_id: bigint; reference: string; amount_fen: bigint; received_at: Date; memo: string | null; transfer_id: bigint }
const PAYMENT_COLUMNS = 'id, tenant_id, reference, amount_fen, received_at, memo, transfer_id';
const toPayment = (r: PaymentRow): Payment => ({
  id: r.id, tenantId: r.tenant_id, reference: r.reference, amountFen: r.amount_fen, receivedAt: r.received_at, memo: r.memo, transferId: r.transfer_id,
});

export async function paymentByReference(db: Queryable, reference: string): Promise<Payment | null> {
  const r = (await db.query<PaymentRow>(`select ${PAYMENT_COLUMNS} from payments where reference = $1`, [reference])).rows[0];
  return r ? toPayment(r) : null;
}

export async function insertPayment(
  db: Queryable, p: { tenantId: bigint; reference: string; amountFen: bigint; receivedAt: Date; memo: string | null; transferId: bigint },
): Promise<Payment> {
  return toPayment((await db.query<PaymentRow>(
    `insert into payments (tenant_id, reference, amount_fen, received_at, memo, transfer_id) values ($1, $2, $3, $4, $5, $6)
     returning ${PAYMENT_COLUMNS}`,
    [p.tenantId.toString(), p.reference, p.amountFen.toString(), p.receivedAt, p.memo, p.transferId.toString()],
  )).rows[0]!);
}

export async function insertAllocation(db: Queryable, paymentId: bigint, receivableId: bigint, amountFen: bigint): Promise<void> {
  await db.query('insert into payment_allocations (payment_id, receivable_id, amount_fen) values ($1, $2, $3)', [paymentId.toString(), receivableId.toString(), amountFen.toString()]);
}

/** A reversal of (part of) a late fee by a correcting transfer already posted. */
export async function insertReversal(db: Queryable, r: { receivableId: bigint; paymentId: bigint; amountFen: bigint; transferId: bigint }): Promise<void> {
  await db.query('insert into receivable_reversals (receivable_id, payment_id, amount_fen, transfer_id) values ($1, $2, $3, $4)',
    [r.receivableId.toString(), r.paymentId.toString(), r.amountFen.toString(), r.transferId.toString()]);
}

export async function listPayments(db: Queryable, tenantId: bigint): Promise<Payment[]> {
  return (await db.query<PaymentRow>(`select ${PAYMENT_COLUMNS} from payments where tenant_id = $1 order by received_at, id`, [tenantId.toString()])).rows.map(toPayment);
}

/** Every allocation of a tenant's payments with the time the payment was received. */
export async function allocationsOf(db: Queryable, tenantId: bigint): Promise<{ receivableId: bigint; receivedAt: Date; amountFen: bigint }[]> {
  const { rows } = await db.query<{ receivable_id: bigint; received_at: Date; amount_fen: bigint }>(
    `select a.receivable_id, p.received_at, a.amount_fen from payment_allocations a join payments p on p.id = a.payment_id where p.tenant_id = $1`,
    [tenantId.toString()],
  );
  return rows.map((r) => ({ receivableId: r.receivable_id, receivedAt: r.received_at, amountFen: r.amount_fen }));
}
