/**
 * Receivables and payments (contract art. 3.2; SQL in src/store/receivables.ts). Each receivable (order, rent, late
 * fee, early-termination fee) is one ledger transfer tenant:<t>:receivable → revenue (or prepaid_billed for the
 * prepaid packages of an order) plus its row in `receivables`; each payment is one transfer cash →
 * tenant:<t>:receivable plus its allocations, oldest receivable first (src/billing/allocation.ts). When an order's
 * prepaid receivable is fully paid its packages are credited (prepaid_billed → a new paid bucket), once, under the
 * order's ledger key. Everything here runs inside the caller's transaction when given a PoolClient.
 */
import { inTransaction, type Queryable } from '../db/tx.js';
import { IdempotencyConflictError } from '../ledger/errors.js';
import { lateFeeReversalKey, orderPrepaidKey, paymentKey } from '../ledger/keys.js';
import { postTransfers, systemAccount, tenantReceivableAccount, type SystemAccountCode, type TransferKind } from '../ledger/ledger.js';
import { oldestFirst } from '../billing/allocation.js';
import { planPayment } from '../billing/back-dated.js';
import { addMonths, dayOf } from '../calendar/zone.js';
import { orderById, setOrderPaidAt } from '../store/orders.js';
import {
  allocationsOf, insertAllocation, insertPayment, insertReceivable, insertReversal, owedFen, paymentByReference, receivableOfTransfer, receivablesOf,
  type Payment, type Receivable, type ReceivableKind,
} from '../store/receivables.js';
import { tenantById } from '../store/tenants.js';
import { creditTenant, type Credit } from './credits.js';
import { RuleError } from './rules.js';

const LEDGER: Record<ReceivableKind, { credit: SystemAccountCode; kind: TransferKind }> = {
  order: { credit: 'prepaid_billed', kind: 'order' },
  rent: { credit: 'revenue:rental', kind: 'rental' },
  late_fee: { credit: 'revenue:late_fee', kind: 'late_fee' },
  early_termination: { credit: 'revenue:early_termination', kind: 'early_termination' },
};

interface NewReceivable {
  tenantId: bigint;
  kind: ReceivableKind;
  amountFen: bigint;
  issuedAt: Date;
  dueAt: Date;
  key: string; // ledger idempotency key (src/ledger/keys.ts): the same key again returns the first receivable
  description: string;
  orderId?: bigint | null;
  numberId?: bigint | null;
  parentId?: bigint | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  feeDay?: string | null;
}

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
      await insertReceivable(c, {
        tenantId: n.tenantId, kind: n.kind, amountFen: n.amountFen, issuedAt: n.issuedAt, dueAt: n.dueAt, accruesLateFee: n.kind !== 'late_fee',
        orderId: n.orderId ?? null, numberId: n.numberId ?? null, parentId: n.parentId ?? null, periodStart: n.periodStart ?? null,
        periodEnd: n.periodEnd ?? null, feeDay: n.feeDay ?? null, description: n.description, transferId,
      });
    }
    const r = await receivableOfTransfer(c, transferId);
    if (!r) throw new IdempotencyConflictError(n.key, `ledger key ${JSON.stringify(n.key)} is used by a transfer that is not a receivable`);
    return { receivable: r, duplicate: results[0]!.duplicate };
  });
}

/** A tenant's receivables, oldest first; `open` = only those with something outstanding. */
export async function listReceivables(db: Queryable, tenantId: bigint, opts: { open?: boolean; orderId?: bigint } = {}): Promise<Receivable[]> {
  const rows = await receivablesOf(db, tenantId, opts.orderId);
  return oldestFirst(opts.open ? rows.filter((r) => r.outstandingFen > 0n) : rows);
}

export interface PaymentResult {
  payment: Payment;
  duplicate: boolean; // this reference was already recorded (nothing changed)
  allocations: { receivableId: bigint; kind: ReceivableKind; description: string; amountFen: bigint; settled: boolean }[];
  /** prepaid packages credited because this payment settled their order (Redis must follow: syncCredit) */
  credits: Credit[];
  /** late fees of days after the payment's date that it covered, taken back (one correcting transfer each) */
  lateFeesReversed: { receivableId: bigint; day: string; amountFen: bigint; transferId: bigint }[];
  outstandingFen: bigint; // what the tenant still owes after this payment
}

const PAYMENT_REFERENCE = /^[\x21-\x7e]{1,150}$/;

interface PaymentRequest {
  tenantId: bigint;
  amountFen: bigint;
  reference: string; // the bank/cash reference: a payment is recorded once per reference
  receivedAt: Date;
  memo?: string | null;
  /** settle only these receivables (a payment that names its debts); default every open one, oldest first */
  receivableIds?: bigint[];
  /** when it is recorded (the booking time of late-fee reversals); default receivedAt */
  recordedAt?: Date;
}

/**
 * Record a payment and settle receivables oldest first. Idempotent by reference: the same reference again returns
 * the first payment (duplicate: true); with another tenant or amount it is refused (IdempotencyConflictError). A
 * payment larger than what is owed is refused (nothing recorded): the rest is a top-up, recorded with `softswitch
 * top-up`. A payment dated before late fees already posted takes back the part of those fees it covered
 * (src/billing/back-dated.ts), each by a correcting transfer booked when the payment is recorded.
 */
export async function recordPayment(db: Queryable, req: PaymentRequest, timeZone: string): Promise<PaymentResult> {
  if (!PAYMENT_REFERENCE.test(req.reference)) throw new RuleError('payment reference must be 1-150 printable characters without spaces');
  if (req.amountFen <= 0n) throw new RuleError('payment amount must be > 0');
  return inTransaction(db, async (c) => {
    // one payment of a tenant at a time: allocations read what earlier payments left open
    if (!(await tenantById(c, req.tenantId, { forUpdate: true }))) throw new RuleError(`no tenant ${req.tenantId}`);
    const prior = await paymentByReference(c, req.reference);
    if (prior) {
      if (prior.tenantId !== req.tenantId || prior.amountFen !== req.amountFen) {
        throw new IdempotencyConflictError(paymentKey(req.reference), `payment reference ${JSON.stringify(req.reference)} was already recorded for ${prior.amountFen} fen (tenant id ${prior.tenantId})`);
      }
      return { payment: prior, duplicate: true, allocations: [], credits: [], lateFeesReversed: [], outstandingFen: await owedFen(c, req.tenantId) };
    }
    const all = await listReceivables(c, req.tenantId);
    let open = all.filter((r) => r.outstandingFen > 0n);
    if (req.receivableIds) {
      const want = new Set(req.receivableIds.map(String));
      open = open.filter((r) => want.has(r.id.toString()));
    }
    const plan = planPayment(req.amountFen, req.receivedAt, open, all, await allocationsOf(c, req.tenantId), timeZone);
    const reversed = new Map(plan.reversals.map((r) => [r.receivableId.toString(), r.amountFen]));
    const left = (r: Receivable): bigint => r.outstandingFen - (reversed.get(r.id.toString()) ?? 0n);
    if (plan.leftoverFen > 0n) {
      const owed = open.reduce((s, r) => s + left(r), 0n);
      throw new RuleError(`payment of ${req.amountFen} fen is more than the ${owed} fen owed${req.receivableIds ? ' on the named receivables' : ''}; record the rest with \`softswitch top-up\``);
    }
    const { allocations } = plan;
    const { posted } = await postTransfers(c, [{
      idempotencyKey: paymentKey(req.reference), debitAccountId: await systemAccount(c, 'cash'), creditAccountId: await tenantReceivableAccount(c, req.tenantId),
      amountFen: req.amountFen, kind: 'payment', tenantId: req.tenantId, memo: req.memo ?? `payment ${req.reference}`, bookedAt: req.receivedAt,
    }]);
    const payment = await insertPayment(c, { tenantId: req.tenantId, reference: req.reference, amountFen: req.amountFen, receivedAt: req.receivedAt, memo: req.memo ?? null, transferId: posted[0]! });
    const lateFeesReversed = await reverseLateFees(c, payment, plan.reversals, req.recordedAt ?? req.receivedAt, timeZone);
    const byId = new Map(open.map((r) => [r.id.toString(), r]));
    const out: PaymentResult['allocations'] = [];
    const settledOrders = new Set<string>();
    for (const a of allocations) {
      await insertAllocation(c, payment.id, a.id, a.amountFen);
      const r = byId.get(a.id.toString())!;
      const settled = a.amountFen === left(r);
      out.push({ receivableId: a.id, kind: r.kind, description: r.description, amountFen: a.amountFen, settled });
      if (settled && r.orderId !== null) settledOrders.add(r.orderId.toString());
    }
    const credits: Credit[] = [];
    for (const orderId of settledOrders) {
      const credit = await settleOrder(c, BigInt(orderId), req.receivedAt, timeZone);
      if (credit) credits.push(credit);
    }
    return { payment, duplicate: false, allocations: out, credits, lateFeesReversed, outstandingFen: await owedFen(c, req.tenantId) };
  });
}

/** One correcting transfer per late fee a back-dated payment made too high: revenue:late_fee → the receivable account. */
async function reverseLateFees(
  c: Queryable, payment: Payment, reversals: { receivableId: bigint; day: string; amountFen: bigint }[], bookedAt: Date, timeZone: string,
): Promise<PaymentResult['lateFeesReversed']> {
  const out: PaymentResult['lateFeesReversed'] = [];
  for (const r of reversals) {
    const { posted } = await postTransfers(c, [{
      idempotencyKey: lateFeeReversalKey(r.receivableId, payment.id), debitAccountId: await systemAccount(c, 'revenue:late_fee'),
      creditAccountId: await tenantReceivableAccount(c, payment.tenantId), amountFen: r.amountFen, kind: 'adjustment', tenantId: payment.tenantId,
      memo: `late fee ${r.day} reversed: payment ${payment.reference} received ${dayOf(payment.receivedAt, timeZone)} covered the debt it ran on`, bookedAt,
    }]);
    await insertReversal(c, { receivableId: r.receivableId, paymentId: payment.id, amountFen: r.amountFen, transferId: posted[0]! });
    out.push({ ...r, transferId: posted[0]! });
  }
  return out;
}

/**
 * After a payment settled a receivable of an order: once the order's prepaid receivable is fully paid, credit its
 * packages (prepaid_billed → new paid bucket, key order:<orderNo>:prepaid); once all of the order's receivables are
 * paid, stamp orders.paid_at.
 */
async function settleOrder(c: Queryable, orderId: bigint, at: Date, timeZone: string): Promise<Credit | null> {
  const o = (await orderById(c, orderId, { forUpdate: true }))!;
  const rs = await listReceivables(c, o.tenantId, { orderId });
  if (o.paidAt === null && rs.every((r) => r.outstandingFen === 0n)) await setOrderPaidAt(c, orderId, at);
  const prepaid = rs.find((r) => r.kind === 'order');
  if (!prepaid || prepaid.outstandingFen !== 0n) return null;
  const activatedAt = o.activatedAt ?? o.signedAt;
  const credit = await creditTenant(c, {
    tenantId: o.tenantId, kind: 'paid', amountFen: prepaid.amountFen, validFrom: activatedAt, expiresAt: addMonths(activatedAt, o.validityMonths, timeZone),
    idempotencyKey: orderPrepaidKey(o.orderNo), sourceOrderId: orderId, memo: `order ${o.orderNo} prepaid packages`,
    fundingAccountId: await systemAccount(c, 'prepaid_billed'), bookedAt: at,
  });
  return credit.duplicate ? null : credit;
}
