/**
 * Orders (rule 1: a new order supersedes the tenant's active one from its signing date; history is kept).
 * An order's prepaid packages become one paid bucket valid `validityMonths` from activation, credited through the
 * ledger when the order is paid; the tenant's service period becomes the order's (counted from activation).
 */
import type { Queryable } from '../ledger/ledger.js';
import { contractTotalFen, prepaidFen } from '../billing/contract.js';
import { PAYMENT_TERM_WORKING_DAYS } from '../billing/late-fee.js';
import { rentForPeriod, rentPeriods, type Rent } from '../billing/rent.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { addMonths, dayOf } from '../calendar/zone.js';
import type { Credit } from './credits.js';
import { addNumber, type PhoneNumber } from './numbers.js';
import { issueReceivable, listReceivables, recordPayment, type Receivable } from './receivables.js';
import { RuleError, validateOrderTerms, type OrderTerms } from './rules.js';
import { inTransaction } from './tx.js';

export interface OrderRequest extends OrderTerms {
  tenantId: bigint;
  orderNo?: string; // default O<tenantId>-<epoch ms>
  signedAt?: Date; // default now
  activatedAt?: Date; // default signedAt
  paid: boolean; // true: paid with the order (payment reference order:<orderNo>); the prepaid amount is credited now
  numbers: string[]; // E.164; given to the tenant pending review at the order's rent
}

export interface Order {
  id: bigint;
  tenantId: bigint;
  orderNo: string;
  signedAt: Date;
  activatedAt: Date | null;
  packageAmountFen: bigint;
  packageCount: number;
  validityMonths: number;
  numberCount: number;
  rent: Rent; // per number
  totalFen: bigint; // contract total (src/billing/contract.ts)
  paidAt: Date | null;
  status: 'active' | 'superseded' | 'cancelled';
  supersedesOrderId: bigint | null;
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

interface Row {
  id: bigint; tenant_id: bigint; order_no: string; signed_at: Date; activated_at: Date | null; package_amount_fen: bigint;
  package_count: number; validity_months: number; number_count: number; rent_fen: bigint; rent_period: Rent['period']; total_fen: bigint;
  paid_at: Date | null; status: Order['status']; supersedes_order_id: bigint | null;
}
const COLUMNS = `id, tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months, number_count,
  rent_fen, rent_period, total_fen, paid_at, status, supersedes_order_id`;
export const toOrder = (r: Row): Order => ({
  id: r.id, tenantId: r.tenant_id, orderNo: r.order_no, signedAt: r.signed_at, activatedAt: r.activated_at,
  packageAmountFen: r.package_amount_fen, packageCount: r.package_count, validityMonths: r.validity_months, numberCount: r.number_count,
  rent: { amountFen: r.rent_fen, period: r.rent_period }, totalFen: r.total_fen, paidAt: r.paid_at, status: r.status, supersedesOrderId: r.supersedes_order_id,
});

const ORDER_NO = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

/**
 * Create an order (supersedes the active one). Its prepaid packages and the first rent period of its numbers are
 * issued as receivables, due 3 working days after signing (art. 3.2); `paid` records their payment at once.
 */
export async function createOrder(db: Queryable, req: OrderRequest, cal: WorkingCalendar): Promise<OrderResult> {
  validateOrderTerms(req);
  const timeZone = cal.timeZone;
  const signedAt = req.signedAt ?? new Date();
  const activatedAt = req.activatedAt ?? signedAt;
  const orderNo = req.orderNo ?? `O${req.tenantId}-${signedAt.getTime()}`;
  if (!ORDER_NO.test(orderNo)) throw new RuleError(`order number ${JSON.stringify(orderNo)}: use 1-64 of A-Z a-z 0-9 _ . -`);
  const numberCount = Math.max(req.numberCount, req.numbers.length);
  return inTransaction(db, async (c) => {
    const t = (await c.query<{ status: string; service_start: Date | null }>('select status, service_start from tenants where id = $1 for update', [req.tenantId.toString()])).rows[0];
    if (!t) throw new RuleError(`no tenant ${req.tenantId}`);
    const existing = (await c.query<Row>(`select ${COLUMNS} from orders where order_no = $1`, [orderNo])).rows[0];
    if (existing) {
      if (existing.tenant_id !== req.tenantId) throw new RuleError(`order ${orderNo} belongs to another tenant`);
      const s = (await c.query<{ service_start: Date | null; service_end: Date | null }>('select service_start, service_end from tenants where id = $1', [req.tenantId.toString()])).rows[0]!;
      return { order: toOrder(existing), duplicate: true, superseded: null, credit: null, numbers: [], receivables: [], serviceStart: s.service_start, serviceEnd: s.service_end };
    }
    if (t.status === 'terminated') throw new RuleError('tenant is terminated: a new order needs a new tenant record');
    const prev = (await c.query<{ id: bigint }>(`update orders set status = 'superseded' where tenant_id = $1 and status = 'active' returning id`, [req.tenantId.toString()])).rows[0];
    const terms: OrderTerms = { ...req, numberCount };
    const ins = await c.query<Row>(
      `insert into orders (tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months,
                           number_count, rent_fen, rent_period, total_fen, paid_at, status, supersedes_order_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, null, 'active', $12) returning ${COLUMNS}`,
      [req.tenantId.toString(), orderNo, signedAt, activatedAt, req.packageAmountFen.toString(), req.packageCount, req.validityMonths,
       numberCount, req.rent.amountFen.toString(), req.rent.period, contractTotalFen(terms, activatedAt, timeZone).toString(), prev?.id.toString() ?? null],
    );
    const order = toOrder(ins.rows[0]!);
    // The service period counts from activation (order 2) and, after a supersession, runs to the new order's end.
    const serviceStart = t.service_start ?? activatedAt;
    const serviceEnd = addMonths(activatedAt, req.validityMonths, timeZone);
    await c.query(`update tenants set service_start = $2, service_end = $3, updated_at = now() where id = $1`, [req.tenantId.toString(), serviceStart, serviceEnd]);
    const dueAt = cal.termEnd(signedAt, PAYMENT_TERM_WORKING_DAYS);
    const receivables: Receivable[] = [];
    const prepaid = prepaidFen(terms);
    if (prepaid > 0n) {
      receivables.push((await issueReceivable(c, {
        tenantId: req.tenantId, kind: 'order', amountFen: prepaid, issuedAt: signedAt, dueAt, key: `order:${orderNo}:receivable`,
        description: `order ${orderNo}: prepaid packages ${req.packageCount} x ${req.packageAmountFen} fen`, orderId: order.id,
      })).receivable);
    }
    const numbers: PhoneNumber[] = [];
    for (const e164 of req.numbers) {
      const n = await addNumber(c, { tenantId: req.tenantId, e164, rent: req.rent, at: activatedAt });
      numbers.push(n);
      const r = await issueRent(c, n, serviceStart, serviceEnd, activatedAt, { issuedAt: signedAt, dueAt, orderId: order.id }, timeZone);
      if (r) receivables.push(r);
    }
    let credit: Credit | null = null;
    if (req.paid && receivables.length) {
      const p = await recordPayment(c, {
        tenantId: req.tenantId, amountFen: receivables.reduce((s, r) => s + r.outstandingFen, 0n), reference: `order:${orderNo}`, receivedAt: signedAt,
        memo: `paid with order ${orderNo}`, receivableIds: receivables.map((r) => r.id),
      }, timeZone);
      credit = p.credits[0] ?? null;
    }
    const final = toOrder((await c.query<Row>(`select ${COLUMNS} from orders where id = $1`, [order.id.toString()])).rows[0]!);
    return { order: final, duplicate: false, superseded: prev?.id ?? null, credit, numbers, receivables: await listReceivables(c, req.tenantId, { orderId: order.id }), serviceStart, serviceEnd };
  });
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
    key: `rent:${n.id}:${dayOf(w.start, timeZone)}`, numberId: n.id, orderId: when.orderId ?? null, periodStart: w.start, periodEnd: w.end,
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
    const r = (await c.query<Row>(`select ${COLUMNS} from orders where order_no = $1`, [orderNo])).rows[0];
    if (!r) throw new RuleError(`no order ${JSON.stringify(orderNo)}`);
    if (r.status === 'cancelled') throw new RuleError(`order ${orderNo} is cancelled`);
    const open = await listReceivables(c, r.tenant_id, { orderId: r.id, open: true });
    if (open.length === 0) return { order: toOrder(r), duplicate: true, credit: null };
    const p = await recordPayment(c, {
      tenantId: r.tenant_id, amountFen: open.reduce((s, x) => s + x.outstandingFen, 0n), reference: `order:${orderNo}`, receivedAt: paidAt,
      memo: `order ${orderNo} paid`, receivableIds: open.map((x) => x.id),
    }, timeZone);
    const order = toOrder((await c.query<Row>(`select ${COLUMNS} from orders where id = $1`, [r.id.toString()])).rows[0]!);
    return { order, duplicate: p.duplicate, credit: p.credits[0] ?? null };
  });
}

export async function listOrders(db: Queryable, tenantId: bigint): Promise<Order[]> {
  return (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 order by id`, [tenantId.toString()])).rows.map(toOrder);
}

export async function activeOrder(db: Queryable, tenantId: bigint): Promise<Order | null> {
  const r = (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 and status = 'active'`, [tenantId.toString()])).rows[0];
  return r ? toOrder(r) : null;
}
