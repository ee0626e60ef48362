/**
 * Orders (rule 1: a new order supersedes the active one) and their payment. PostgreSQL with the audit row in one
 * transaction, then Redis follows: the tenant's service period and the prepaid credit.
 */
import { loadCalendar } from '../calendar/load.js';
import { recordAudit } from '../store/audit.js';
import { listOrders as selectOrders, type Order } from '../store/orders.js';
import type { Credit } from '../tenants/credits.js';
import { createOrder as insertOrder, payOrder as markPaid, type OrderResult } from '../tenants/orders.js';
import type { OrderTerms } from '../tenants/rules.js';
import { syncCredit, type SyncOutcome } from '../tenants/sync.js';
import { getTenant } from '../tenants/tenants.js';
import type { Actor, ServiceDeps } from './context.js';
import { followRedis, followState, requireWriter, resolveTenant, tx } from './common.js';
import { NotFoundError } from './errors.js';

interface OrderInput extends OrderTerms {
  tenant: string | bigint;
  orderNo?: string;
  signedAt?: Date;
  activatedAt?: Date;
  paid: boolean;
  numbers: string[];
}

const followCredit = (deps: ServiceDeps, credit: Credit | null): Promise<SyncOutcome> =>
  credit ? followRedis(deps, (r) => syncCredit(r, credit)) : Promise.resolve('skipped');

export async function createOrder(deps: ServiceDeps, actor: Actor, input: OrderInput): Promise<OrderResult & { redis: { state: SyncOutcome; credit: SyncOutcome } }> {
  requireWriter(actor, 'creating an order');
  const t = await resolveTenant(deps, actor, input.tenant);
  const r = await tx(deps, async (c) => {
    const cal = await loadCalendar(c, deps.config.service.timezone);
    const out = await insertOrder(c, { ...input, tenantId: t.id, signedAt: input.signedAt ?? deps.now() }, cal);
    if (!out.duplicate) {
      await recordAudit(c, {
        actor, action: 'order.create', targetType: 'order', targetId: out.order.orderNo, tenantId: t.id,
        after: { order: out.order, superseded: out.superseded, credit: out.credit, receivables: out.receivables.map((r) => r.id), numbers: out.numbers.map((n) => n.e164), serviceStart: out.serviceStart, serviceEnd: out.serviceEnd },
      });
    }
    return out;
  });
  if (r.duplicate) return { ...r, redis: { state: 'skipped', credit: 'skipped' } };
  const fresh = await getTenant(deps.pool, t.id);
  const state = await followState(deps, fresh);
  return { ...r, redis: { state, credit: await followCredit(deps, r.credit) } };
}

/** Payment of an unpaid order: its prepaid packages are credited. Paying again is a no-op (duplicate). */
export async function payOrder(deps: ServiceDeps, actor: Actor, orderNo: string, paidAt?: Date): Promise<{ order: Order; duplicate: boolean; credit: Credit | null; redis: { credit: SyncOutcome } }> {
  requireWriter(actor, 'recording an order payment');
  const r = await tx(deps, async (c) => {
    const out = await markPaid(c, orderNo, paidAt ?? deps.now(), deps.config.service.timezone).catch((e: Error) => {
      throw /^no order/.test(e.message) ? new NotFoundError(e.message) : e;
    });
    if (!out.duplicate) {
      await recordAudit(c, { actor, action: 'order.pay', targetType: 'order', targetId: orderNo, tenantId: out.order.tenantId, before: { paidAt: null }, after: { paidAt: out.order.paidAt, credit: out.credit } });
    }
    return out;
  });
  return { ...r, redis: { credit: await followCredit(deps, r.credit) } };
}

export async function listOrders(deps: ServiceDeps, actor: Actor, tenant: string | bigint): Promise<Order[]> {
  const t = await resolveTenant(deps, actor, tenant);
  return selectOrders(deps.pool, t.id);
}
