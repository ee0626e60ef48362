/**
 * The tenant/operator JSON API (contract art. 5.5 bill and CDR query, art. 6 confidentiality):
 *   GET /v1/me                                   who the token belongs to
 *   GET /v1/tenants                              operators: every tenant; a tenant: itself
 *   GET /v1/tenants/:tenant                      :tenant = me | id | code
 *   GET /v1/tenants/:tenant/balance              settled balance per bucket (ledger)
 *   GET /v1/tenants/:tenant/bills/:month         monthly bill, month = YYYY-MM in service.timezone
 *   GET /v1/tenants/:tenant/cdrs?from&to&result&limit&cursor   CDRs newest first, keyset-paged
 * A tenant token reaches only its own tenant; any other tenant is 404, like one that does not exist.
 * Money is integer fen as decimal strings (*Fen) with the CNY text beside the totals (*Cny).
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import { fenToCny } from '../money/units.js';
import { authenticate, tenantScope, type Principal } from './auth.js';
import { badRequest, notFound } from './errors.js';
import { decodeCursor, encodeCursor, parseEnum, parseInstant, parseLimit, parseMonth, parseTenantRef, queryParams } from './params.js';
import { tenantBalance } from './reads/balance.js';
import { monthlyBill } from './reads/bills.js';
import { listCdrs } from './reads/cdrs.js';
import { findTenant, listTenants, type TenantSummary } from './reads/tenants.js';
import type { Route, RouteContext } from './router.js';

const CDR_PAGE_DEFAULT = 100;
const CDR_PAGE_MAX = 1000;
const CDR_RANGE_DEFAULT_DAYS = 31;
const CDR_RANGE_MAX_DAYS = 366;
const DAY_MS = 86_400_000;

export interface TenantApiDeps {
  pool: Pool;
  config: Config;
}

export function createTenantApiRoutes(deps: TenantApiDeps): Route[] {
  const { pool, config } = deps;

  const who = (ctx: RouteContext): Promise<Principal> => authenticate(ctx.req, pool, config.api.operatorToken);

  /** Authenticate, then resolve :tenant to a tenant this principal may read (404 otherwise). */
  async function scopedTenant(ctx: RouteContext): Promise<{ p: Principal; tenant: TenantSummary }> {
    const p = await who(ctx);
    const ref = parseTenantRef(ctx.params.tenant!);
    if (ref.by === 'me' && p.kind === 'operator') throw badRequest('"me" is for tenant tokens; operators name a tenant id or code');
    let id: bigint | null;
    if (ref.by === 'code') id = (await findTenant(pool, { code: ref.code }))?.id ?? null;
    else if (ref.by === 'me') id = p.kind === 'tenant' ? p.tenantId : null;
    else id = ref.id;
    const allowed = id === null ? null : tenantScope(p, id);
    const tenant = allowed === null ? null : await findTenant(pool, { id: allowed });
    if (!tenant) throw notFound(`tenant ${ctx.params.tenant} not found`);
    return { p, tenant };
  }

  return [
    {
      method: 'GET',
      path: '/v1/me',
      handler: async (ctx) => {
        queryParams(ctx.url, []);
        const p = await who(ctx);
        if (p.kind === 'operator') return { body: { kind: 'operator' } };
        return { body: { kind: 'tenant', tenant: await findTenant(pool, { id: p.tenantId }) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/tenants',
      handler: async (ctx) => {
        queryParams(ctx.url, []);
        const p = await who(ctx);
        const tenants = p.kind === 'operator' ? await listTenants(pool) : [await findTenant(pool, { id: p.tenantId })].filter((t) => t !== null);
        return { body: { tenants } };
      },
    },
    {
      method: 'GET',
      path: '/v1/tenants/:tenant',
      handler: async (ctx) => {
        queryParams(ctx.url, []);
        return { body: (await scopedTenant(ctx)).tenant };
      },
    },
    {
      method: 'GET',
      path: '/v1/tenants/:tenant/balance',
      handler: async (ctx) => {
        queryParams(ctx.url, []);
        const { tenant } = await scopedTenant(ctx);
        const b = await tenantBalance(pool, tenant.id);
        return {
          body: {
            tenantId: tenant.id,
            ...b,
            usableTotalCny: fenToCny(b.usableTotalFen),
            note: 'settled ledger balance; charges of calls in progress are not yet deducted',
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/tenants/:tenant/bills/:month',
      handler: async (ctx) => {
        queryParams(ctx.url, []);
        const month = parseMonth(ctx.params.month!);
        const { tenant } = await scopedTenant(ctx);
        const bill = await monthlyBill(pool, tenant.id, month.text, config.service.timezone);
        return {
          body: {
            tenantId: tenant.id,
            ...bill,
            openingBalanceCny: fenToCny(bill.openingBalanceFen),
            closingBalanceCny: fenToCny(bill.closingBalanceFen),
            creditedCny: fenToCny(bill.creditedFen),
            debitedCny: fenToCny(bill.debitedFen),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/tenants/:tenant/cdrs',
      handler: async (ctx) => {
        const q = queryParams(ctx.url, ['from', 'to', 'result', 'limit', 'cursor']);
        const to = q.to !== undefined ? parseInstant('to', q.to) : new Date();
        const from = q.from !== undefined ? parseInstant('from', q.from) : new Date(to.getTime() - CDR_RANGE_DEFAULT_DAYS * DAY_MS);
        if (from >= to) throw badRequest('from must be earlier than to');
        if (to.getTime() - from.getTime() > CDR_RANGE_MAX_DAYS * DAY_MS) throw badRequest(`from..to spans more than ${CDR_RANGE_MAX_DAYS} days`);
        const limit = parseLimit(q.limit, CDR_PAGE_DEFAULT, CDR_PAGE_MAX);
        const result = parseEnum('result', q.result, ['answered', 'failed', 'canceled', 'rejected'] as const);
        const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
        const { p, tenant } = await scopedTenant(ctx);
        const page = await listCdrs(pool, { tenantId: tenant.id, from, to, limit, ...(result ? { result } : {}), ...(after ? { after } : {}) }, p.kind === 'operator');
        return { body: { tenantId: tenant.id, from, to, cdrs: page.rows, nextCursor: page.next ? encodeCursor(page.next) : null } };
      },
    },
  ];
}
