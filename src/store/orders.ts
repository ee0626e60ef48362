/** SQL of orders (history kept; a new order supersedes the active one). Rules: src/tenants/orders.ts. */
import type { Queryable } from '../db/tx.js';
import type { Rent } from '../billing/rent.js';

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

interface Row {
  id: bigint; tenant_id: bigint; order_no: string; signed_at: Date; activated_at: Date | null; package_amount_fen: bigint;
  package_count: number; validity_months: number; number_count: number; rent_fen: bigint; rent_period: Rent['period']; total_fen: bigint;
  paid_at: Date | null; status: Order['status']; supersedes_order_id: bigint | null;
}
const COLUMNS = `id, tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months, number_count,
  rent_fen, rent_period, total_fen, paid_at, status, supersedes_order_id`;
const toOrder = (r: Row): Order => ({
  id: r.id, tenantId: r.tenant_id, orderNo: r.order_no, signedAt: r.signed_at, activatedAt: r.activated_at,
  packageAmountFen: r.package_amount_fen, packageCount: r.package_count, validityMonths: r.validity_months, numberCount: r.number_count,
  rent: { amountFen: r.rent_fen, period: r.rent_period }, totalFen: r.total_fen, paidAt: r.paid_at, status: r.status, supersedesOrderId: r.supersedes_order_id,
});

/** An order by its number, or null. */
export async function orderByNo(db: Queryable, orderNo: string): Promise<Order | null> {
  const r = (await db.query<Row>(`select ${COLUMNS} from orders where order_no = $1`, [orderNo])).rows[0];
  return r ? toOrder(r) : null;
}

/** An order by id, or null; forUpdate locks its row until the caller's transaction ends. */
export async function orderById(db: Queryable, id: bigint, opts: { forUpdate?: boolean } = {}): Promise<Order | null> {
  const r = (await db.query<Row>(`select ${COLUMNS} from orders where id = $1${opts.forUpdate ? ' for update' : ''}`, [id.toString()])).rows[0];
  return r ? toOrder(r) : null;
}

export async function listOrders(db: Queryable, tenantId: bigint): Promise<Order[]> {
  return (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 order by id`, [tenantId.toString()])).rows.map(toOrder);
}

export async function activeOrder(db: Queryable, tenantId: bigint): Promise<Order | null> {
  const r = (await db.query<Row>(`select ${COLUMNS} from orders where tenant_id = $1 and status = 'active'`, [tenantId.toString()])).rows[0];
  return r ? toOrder(r) : null;
}

/** Mark the tenant's active order superseded; returns its id (null: there was none). */
export async function supersedeActiveOrder(db: Queryable, tenantId: bigint): Promise<bigint | null> {
  return (await db.query<{ id: bigint }>(`update orders set status = 'superseded' where tenant_id = $1 and status = 'active' returning id`, [tenantId.toString()])).rows[0]?.id ?? null;
}

export async function insertOrder(
  db: Queryable,
  o: Omit<Order, 'id' | 'paidAt' | 'status'> & { activatedAt: Date },
): Promise<Order> {
  const ins = await db.query<Row>(
    `insert into orders (tenant_id, order_no, signed_at, activated_at, package_amount_fen, package_count, validity_months,
                         number_count, rent_fen, rent_period, total_fen, paid_at, status, supersedes_order_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, null, 'active', $12) returning ${COLUMNS}`,
    [o.tenantId.toString(), o.orderNo, o.signedAt, o.activatedAt, o.packageAmountFen.toString(), o.packageCount, o.validityMonths,
     o.numberCount, o.rent.amountFen.toString(), o.rent.period, o.totalFen.toString(), o.supersedesOrderId?.toString() ?? null],
  );
  return toOrder(ins.rows[0]!);
}

export async function setOrderPaidAt(db: Queryable, id: bigint, at: Date): Promise<void> {
  await db.query('update orders set paid_at = $2 where id = $1', [id.toString(), at]);
}
