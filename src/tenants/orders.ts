/**
 * Orders (rule 1: a new order supersedes the tenant's active one from its signing date; history is kept).
 * An order's prepaid packages become one paid bucket valid `validityMonths` from activation, credited through the
 * ledger when the order is paid; the tenant's service period becomes the order's (counted from activation).
 */
import type { Queryable } from '../ledger/ledger.js';
import { creditTenant, findCredit, type Credit } from './credits.js';
import { addNumber, type PhoneNumber } from './numbers.js';
import { addMonths, orderTotalFen, prepaidFen, RuleError, validateOrderTerms, type OrderTerms } from './rules.js';
import { inTransaction } from './tx.js';

export interface OrderRequest extends OrderTerms {
  tenantId: bigint;
  orderNo?: string; // default O<tenantId>-<epoch ms>
  signedAt?: Date; // default now
  activatedAt?: Date; // default signedAt
  paid: boolean; // true: the prepaid amount is credited now
  numbers: string[]; // E.164; given to the tenant pending review at the order's monthly rent
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
  monthlyRentFen: bigint;
  totalFen: bigint;
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
  serviceStart: Date | null;
  serviceEnd: Date | null;
}

interface Row {
  id: bigint; tenant_id: bigint; order_no: string; signed_at: Date; activated_at: Date | null; package_amount_fen: bigint;
  package_count: number; validity_months: number; number_count: number; monthly_rent_fen: bigint; total_fen: bigint;
  paid_at: Date | null; status: Order['status']; supersedes_order_id: bigint | null;
}
const COLUMNS = `id, tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months, number_count,
  monthly_rent_fen, total_fen, paid_at, status, supersedes_order_id`;
export const toOrder = (r: Row): Order => ({
  id: r.id, tenantId: r.tenant_id, orderNo: r.order_no, signedAt: r.signed_at, activatedAt: r.activated_at,
  packageAmountFen: r.package_amount_fen, packageCount: r.package_count, validityMonths: r.validity_months, numberCount: r.number_count,
  monthlyRentFen: r.monthly_rent_fen, totalFen: r.total_fen, paidAt: r.paid_at, status: r.status, supersedesOrderId: r.supersedes_order_id,
});

const ORDER_NO = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

export async function createOrder(db: Queryable, req: OrderRequest, timeZone: string): Promise<OrderResult> {
  validateOrderTerms(req);
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
      return { order: toOrder(existing), duplicate: true, superseded: null, credit: null, numbers: [], serviceStart: s.service_start, serviceEnd: s.service_end };
    }
    if (t.status === 'terminated') throw new RuleError('tenant is terminated: a new order needs a new tenant record');
    const prev = (await c.query<{ id: bigint }>(`update orders set status = 'superseded' where tenant_id = $1 and status = 'active' returning id`, [req.tenantId.toString()])).rows[0];
    const terms: OrderTerms = { ...req, numberCount };
    const ins = await c.query<Row>(
      `insert into orders (tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months,
                           number_count, monthly_rent_fen, total_fen, paid_at, status, supersedes_order_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12) returning ${COLUMNS}`,
      [req.tenantId.toString(), orderNo, signedAt, activatedAt, req.packageAmountFen.toString(), req.packageCount, req.validityMonths,
       numberCount, req.monthlyRentFen.toString(), orderTotalFen(terms).toString(), req.paid ? signedAt : null, prev?.id.toString() ?? null],
    );
    const order = toOrder(ins.rows[0]!);
    // The service period counts from activation (order 2) and, after a supersession, runs to the new order's end.
    const serviceStart = t.service_start ?? activatedAt;
    const serviceEnd = addMonths(activatedAt, req.validityMonths, timeZone);
    await c.query(`update tenants set service_start = $2, service_end = $3, updated_at = now() where id = $1`, [req.tenantId.toString(), serviceStart, serviceEnd]);
    let credit: Credit | null = null;
    const prepaid = prepaidFen(terms);
    if (req.paid && prepaid > 0n) {
      credit = await creditTenant(c, {
        tenantId: req.tenantId, kind: 'paid', amountFen: prepaid, validFrom: activatedAt, expiresAt: serviceEnd,
        idempotencyKey: `order:${orderNo}:prepaid`, sourceOrderId: order.id, memo: `order ${orderNo} prepaid packages`,
      });
    }
    const numbers: PhoneNumber[] = [];
    for (const e164 of req.numbers) numbers.push(await addNumber(c, { tenantId: req.tenantId, e164, monthlyRentFen: req.monthlyRentFen }));
    return { order, duplicate: false, superseded: prev?.id ?? null, credit, numbers, serviceStart, serviceEnd };
  });
}

/**
 * Record payment of an unpaid order: paid_at is set and its prepaid packages are credited (the same bucket and
 * ledger key a paid order gets at creation). Paying a paid order again is a no-op (duplicate: true).
 */
export async function payOrder(db: Queryable, orderNo: string, paidAt: Date, timeZone: string): Promise<{ order: Order; duplicate: boolean; credit: Credit | null }> {
  return inTransaction(db, async (c) => {
    const r = (await c.query<Row>(`select ${COLUMNS} from orders where order_no = $1 for update`, [orderNo])).rows[0];
    if (!r) throw new RuleError(`no order ${JSON.stringify(orderNo)}`);
    const key = `order:${orderNo}:prepaid`;
    if (r.paid_at) return { order: toOrder(r), duplicate: true, credit: await findCredit(c, key) };
    if (r.status === 'cancelled') throw new RuleError(`order ${orderNo} is cancelled`);
    const order = toOrder((await c.query<Row>(`update orders set paid_at = $2 where id = $1 returning ${COLUMNS}`, [r.id.toString(), paidAt])).rows[0]!);
    const prepaid = prepaidFen(order);
    const activatedAt = order.activatedAt ?? order.signedAt;
    const credit = prepaid > 0n
      ? await creditTenant(c, {
          tenantId: order.tenantId, kind: 'paid', amountFen: prepaid, validFrom: activatedAt, expiresAt: addMonths(activatedAt, order.validityMonths, timeZone),
          idempotencyKey: key, sourceOrderId: order.id, memo: `order ${orderNo} prepaid packages (paid ${paidAt.toISOString()})`,
        })
      : null;
    return { order, duplicate: false, credit };
  });
}

export async function listOrders(db: Queryable, tenantId: bigint): Promise<Order[]> {
  return (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 order by id`, [tenantId.toString()])).rows.map(toOrder);
}

export async function activeOrder(db: Queryable, tenantId: bigint): Promise<Order | null> {
  const r = (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 and status = 'active'`, [tenantId.toString()])).rows[0];
  return r ? toOrder(r) : null;
}
