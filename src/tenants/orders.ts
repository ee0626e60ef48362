/**
 * Orders (rule 1: a new order supersedes the tenant's active one from its signing date; history is kept).
 * An order's prepaid packages become one paid bucket valid `validityMonths` from activation, credited through the
 * ledger when the order is paid; the tenant's service period becomes the order's (counted from activation).
 */
import { inTransaction, type Queryable } from '../db/tx.js';
import { contractTotalFen, prepaidFen } from '../billing/contract.js';
import { PAYMENT_TERM_WORKING_DAYS } from '../billing/late-fee.js';
import { rentForPeriod, rentPeriods } from '../billing/rent.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { addMonths, dayOf } from '../calendar/zone.js';
import { orderReceivableKey, rentKey } from '../ledger/keys.js';
import { insertOrder, orderById, orderByNo, supersedeActiveOrder, type Order } from '../store/orders.js';
import type { PhoneNumber } from '../store/numbers.js';
import type { Receivable } from '../store/receivables.js';
import { setServicePeriod, tenantById } from '../store/tenants.js';
import type { Credit } from './credits.js';
import { addNumber } from './numbers.js';
import { issueReceivable, listReceivables, recordPayment } from './receivables.js';
import { RuleError, validateOrderTerms, type OrderTerms } from './rules.js';

interface OrderRequest extends OrderTerms {
  tenantId: bigint;
  orderNo?: string; // default O<tenantId>-<epoch ms>
  signedAt?: Date; // default now
  activatedAt?: Date; // default signedAt
  paid: boolean; // true: paid with the order (payment reference order:<orderNo>); the prepaid amount is credited now
  numbers: string[]; // E.164; given to the tenant pending review at the order's rent
}

export interface OrderResult {
  order: Order;
  duplicate: boolean; // an order with this orderNo already existed (nothing changed)
  superseded: bigint | null;
  credit: Credit | null;
  numbers: PhoneNumber[];
  receivables: Receivable[]; // issued now: the prepaid packages and the first rent period of the order's numbers
  serviceStart: Date | null;
  serviceEnd: Date | null;
}

const ORDER_NO = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

/**
 * Create an order (supersedes the active one). Its prepaid packages and the first rent period of its numbers are
 * issued as receivables, due 3 working days after signing (art. 3.2); `paid` records their payment at once.
 */
export async function createOrder(db: Queryable, req: OrderRequest, cal: WorkingCalendar): Promise<OrderResult> {
  validateOrderTerms(req);
  const signedAt = req.signedAt ?? new Date();
  const activatedAt = req.activatedAt ?? signedAt;
  const orderNo = req.orderNo ?? `O${req.tenantId}-${signedAt.getTime()}`;
  if (!ORDER_NO.test(orderNo)) throw new RuleError(`order number ${JSON.stringify(orderNo)}: use 1-64 of A-Z a-z 0-9 _ . -`);
  const terms: OrderTerms = { ...req, numberCount: Math.max(req.numberCount, req.numbers.length) };
  return inTransaction(db, async (c) => {
    const t = await tenantById(c, req.tenantId, { forUpdate: true });
    if (!t) throw new RuleError(`no tenant ${req.tenantId}`);
    const existing = await orderByNo(c, orderNo);
    if (existing) {
      if (existing.tenantId !== req.tenantId) throw new RuleError(`order ${orderNo} belongs to another tenant`);
      return { order: existing, duplicate: true, superseded: null, credit: null, numbers: [], receivables: [], serviceStart: t.serviceStart, serviceEnd: t.serviceEnd };
    }
    if (t.status === 'terminated') throw new RuleError('tenant is terminated: a new order needs a new tenant record');
    const superseded = await supersedeActiveOrder(c, req.tenantId);
    const order = await insertOrder(c, {
      tenantId: req.tenantId, orderNo, signedAt, activatedAt, packageAmountFen: req.packageAmountFen, packageCount: req.packageCount,
      validityMonths: req.validityMonths, numberCount: terms.numberCount, rent: req.rent, totalFen: contractTotalFen(terms, activatedAt, cal.timeZone),
      supersedesOrderId: superseded,
    });
    // The service period counts from activation (order 2) and, after a supersession, runs to the new order's end.
    const serviceStart = t.serviceStart ?? activatedAt;
    const serviceEnd = addMonths(activatedAt, req.validityMonths, cal.timeZone);
    await setServicePeriod(c, req.tenantId, serviceStart, serviceEnd);
    const { numbers, receivables } = await billOrder(c, req, order, terms, { serviceStart, serviceEnd }, cal);
    let credit: Credit | null = null;
    if (req.paid && receivables.length) {
      const p = await recordPayment(c, {
        tenantId: req.tenantId, amountFen: receivables.reduce((s, r) => s + r.outstandingFen, 0n), reference: `order:${orderNo}`, receivedAt: signedAt,
        memo: `paid with order ${orderNo}`, receivableIds: receivables.map((r) => r.id),
      }, cal.timeZone);
      credit = p.credits[0] ?? null;
    }
    const final = (await orderById(c, order.id))!;
    return { order: final, duplicate: false, superseded, credit, numbers, receivables: await listReceivables(c, req.tenantId, { orderId: order.id }), serviceStart, serviceEnd };
  });
}

/**
 * The receivables of a new order, due 3 working days after signing: its prepaid packages, and the first rent period
 * of each of its numbers (given to the tenant now).
 */
async function billOrder(
  c: Queryable, req: OrderRequest, order: Order, terms: OrderTerms, period: { serviceStart: Date; serviceEnd: Date }, cal: WorkingCalendar,
): Promise<{ numbers: PhoneNumber[]; receivables: Receivable[] }> {
  const signedAt = order.signedAt;
  const activatedAt = order.activatedAt ?? signedAt;
  const dueAt = cal.termEnd(signedAt, PAYMENT_TERM_WORKING_DAYS);
  const receivables: Receivable[] = [];
  const prepaid = prepaidFen(terms);
  if (prepaid > 0n) {
    receivables.push((await issueReceivable(c, {
      tenantId: req.tenantId, kind: 'order', amountFen: prepaid, issuedAt: signedAt, dueAt, key: orderReceivableKey(order.orderNo),
      description: `order ${order.orderNo}: prepaid packages ${req.packageCount} x ${req.packageAmountFen} fen`, orderId: order.id,
    })).receivable);
  }
  const numbers: PhoneNumber[] = [];
  for (const e164 of req.numbers) {
    const n = await addNumber(c, { tenantId: req.tenantId, e164, rent: req.rent, at: activatedAt });
    numbers.push(n);
    const r = await issueRent(c, n, period.serviceStart, period.serviceEnd, activatedAt, { issuedAt: signedAt, dueAt, orderId: order.id }, cal.timeZone);
    if (r) receivables.push(r);
  }
  return { numbers, receivables };
}

/**
 * The rent receivable of a number for the rent period containing `at` (none when rent is 0, the number has no
 * holder or `at` is outside the service period). Key rent:<numberId>:<period start day>: the order and the rent job
 * issue the same period once. A number held from inside the period pays pro-rata (src/billing/rent.ts).
 */
export async function issueRent(
  db: Queryable, n: PhoneNumber, serviceStart: Date, serviceEnd: Date, at: Date,
  when: { issuedAt: Date; dueAt: Date; orderId?: bigint | null }, timeZone: string,
): Promise<Receivable | null> {
  if (n.tenantId === null || n.rent.amountFen === 0n) return null;
  const w = rentPeriods(serviceStart, serviceEnd, n.rent.period, timeZone).find((p) => p.start.getTime() <= at.getTime() && at.getTime() < p.end.getTime());
  if (!w) return null;
  const charge = rentForPeriod(n.rent, w, n.heldSince, timeZone);
  if (charge.amountFen === 0n) return null;
  const span = `${dayOf(w.start, timeZone)}..${dayOf(w.end, timeZone)}`;
  const { receivable } = await issueReceivable(db, {
    tenantId: n.tenantId, kind: 'rent', amountFen: charge.amountFen, issuedAt: when.issuedAt, dueAt: when.dueAt,
    key: rentKey(n.id, dayOf(w.start, timeZone)), numberId: n.id, orderId: when.orderId ?? null, periodStart: w.start, periodEnd: w.end,
    description: `rent ${n.e164} ${span} (${n.rent.amountFen} fen per ${n.rent.period}${charge.proRata ? `, ${charge.daysCharged}/${charge.daysInPeriod} days` : ''})`,
  });
  return receivable;
}

/**
 * Record payment of an order: its outstanding receivables are paid (reference order:<orderNo>) and its prepaid
 * packages credited. Paying a paid order again is a no-op (duplicate: true).
 */
export async function payOrder(db: Queryable, orderNo: string, paidAt: Date, timeZone: string): Promise<{ order: Order; duplicate: boolean; credit: Credit | null }> {
  return inTransaction(db, async (c) => {
    const r = await orderByNo(c, orderNo);
    if (!r) throw new RuleError(`no order ${JSON.stringify(orderNo)}`);
    if (r.status === 'cancelled') throw new RuleError(`order ${orderNo} is cancelled`);
    const open = await listReceivables(c, r.tenantId, { orderId: r.id, open: true });
    if (open.length === 0) return { order: r, duplicate: true, credit: null };
    const p = await recordPayment(c, {
      tenantId: r.tenantId, amountFen: open.reduce((s, x) => s + x.outstandingFen, 0n), reference: `order:${orderNo}`, receivedAt: paidAt,
      memo: `order ${orderNo} paid`, receivableIds: open.map((x) => x.id),
    }, timeZone);
    return { order: (await orderById(c, r.id))!, duplicate: p.duplicate, credit: p.credits[0] ?? null };
  });
}
