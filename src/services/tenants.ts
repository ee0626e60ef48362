/**
 * Tenant operations: create, notice settings, limits, rate plan, suspend / resume / terminate, and the reads the CLI, the API
 * and the portal show. PostgreSQL first (with the audit row in the same transaction), then Redis follows.
 */
import { recordAudit } from '../audit/audit.js';
import { tenantBuckets, type BucketBalance } from '../ledger/ledger.js';
import { activeOrder, type Order } from '../tenants/orders.js';
import { listNumbers, type PhoneNumber } from '../tenants/numbers.js';
import { syncTenantState, type SyncOutcome } from '../tenants/sync.js';
import {
  createTenant as insertTenant, getTenantLimits, listTenants as selectTenants, setNoticeSettings, setTenantLimits, setTenantRatePlan,
  setTenantStatus, type NoticeSettings, type Tenant, type TenantLimits, type TenantStatus,
} from '../tenants/tenants.js';
import type { Actor, ServiceDeps } from './context.js';
import { followRedis, requireWriter, resolveTenant, tx } from './common.js';
import { ConflictError } from './errors.js';

export interface TenantChange {
  tenant: Tenant;
  redis: SyncOutcome;
}

export interface NewTenantInput {
  code: string;
  legalName: string;
  ratePlan?: string | null;
  notifyEmail?: string | null;
  notifySms?: string | null;
  notifyWebhook?: string | null;
}

const followState = (deps: ServiceDeps, t: Tenant) => followRedis(deps, (r) => syncTenantState(r, t));

export async function createTenant(deps: ServiceDeps, actor: Actor, input: NewTenantInput): Promise<TenantChange> {
  requireWriter(actor, 'creating a tenant');
  const tenant = await tx(deps, async (c) => {
    let t = await insertTenant(c, {
      code: input.code, legalName: input.legalName, notifyEmail: input.notifyEmail ?? null, notifySms: input.notifySms ?? null,
      notifyWebhook: input.notifyWebhook ?? null,
    }).catch((e: Error) => {
      throw /already exists$/.test(e.message) ? new ConflictError(e.message) : e;
    });
    if (input.ratePlan) t = await setTenantRatePlan(c, t.id, input.ratePlan);
    await recordAudit(c, { actor, action: 'tenant.create', targetType: 'tenant', targetId: t.id, tenantId: t.id, after: t });
    return t;
  });
  return { tenant, redis: await followState(deps, tenant) };
}

export async function getTenant(deps: ServiceDeps, actor: Actor, ref: string | bigint): Promise<Tenant> {
  return resolveTenant(deps, actor, ref);
}

/** Operators: every tenant (optionally of one status); a tenant: itself. */
export async function listTenants(deps: ServiceDeps, actor: Actor, filter: { status?: TenantStatus } = {}): Promise<Tenant[]> {
  if (actor.kind === 'tenant') {
    const self = await resolveTenant(deps, actor, actor.tenantId!);
    return filter.status && self.status !== filter.status ? [] : [self];
  }
  return selectTenants(deps.pool, filter);
}

export interface TenantOverview {
  tenant: Tenant;
  ratePlan: string | null;
  activeOrder: Order | null;
  numbers: PhoneNumber[];
  buckets: BucketBalance[];
}

export async function showTenant(deps: ServiceDeps, actor: Actor, ref: string | bigint): Promise<TenantOverview> {
  const t = await resolveTenant(deps, actor, ref);
  const [order, numbers, buckets, plan] = await Promise.all([
    activeOrder(deps.pool, t.id), listNumbers(deps.pool, t.id), tenantBuckets(deps.pool, t.id),
    t.ratePlanId === null ? null : deps.pool.query<{ name: string }>('select name from rate_plans where id = $1', [t.ratePlanId.toString()]),
  ]);
  return { tenant: t, ratePlan: plan?.rows[0]?.name ?? null, activeOrder: order, numbers, buckets };
}

/** Notice channels: an operator-admin for any tenant, a tenant for itself (contract art. 2.2). */
export async function updateNoticeSettings(deps: ServiceDeps, actor: Actor, ref: string | bigint, patch: Partial<NoticeSettings>): Promise<Tenant> {
  if (actor.kind !== 'tenant') requireWriter(actor, 'changing notice settings');
  const t = await resolveTenant(deps, actor, ref);
  return tx(deps, async (c) => {
    const after = await setNoticeSettings(c, t.id, patch);
    const pick = (x: Tenant): NoticeSettings => ({ notifyEmail: x.notifyEmail, notifySms: x.notifySms, notifyWebhook: x.notifyWebhook, notifyLanguage: x.notifyLanguage });
    await recordAudit(c, { actor, action: 'tenant.notice-settings', targetType: 'tenant', targetId: t.id, tenantId: t.id, before: pick(t), after: pick(after) });
    return after;
  });
}

export async function getLimits(deps: ServiceDeps, actor: Actor, ref: string | bigint): Promise<{ tenant: Tenant; limits: TenantLimits }> {
  const t = await resolveTenant(deps, actor, ref);
  return { tenant: t, limits: await getTenantLimits(deps.pool, t.id) };
}

/** Change some call limits; SIP instances apply them within their directory cache time. */
export async function updateLimits(deps: ServiceDeps, actor: Actor, ref: string | bigint, patch: Partial<TenantLimits>): Promise<{ tenant: Tenant; limits: TenantLimits }> {
  requireWriter(actor, 'changing call limits');
  const t = await resolveTenant(deps, actor, ref);
  const limits = await tx(deps, async (c) => {
    await c.query('select 1 from tenants where id = $1 for update', [t.id.toString()]);
    const before = await getTenantLimits(c, t.id);
    const after = await setTenantLimits(c, t.id, patch);
    await recordAudit(c, { actor, action: 'tenant.limits', targetType: 'tenant', targetId: t.id, tenantId: t.id, before, after });
    return after;
  });
  return { tenant: t, limits };
}

export interface RatePlanChange extends TenantChange {
  before: string | null;
  after: string;
}

/**
 * Move a tenant to another rate plan (by name). Calls authorized after the change are rated by the new plan on
 * every instance (the Redis write publishes a control message that drops each engine's cached plan); a call
 * already authorized keeps the rate it was authorized at, which its CDR carries. A terminated tenant is final.
 */
export async function changeRatePlan(deps: ServiceDeps, actor: Actor, ref: string | bigint, planName: string): Promise<RatePlanChange> {
  requireWriter(actor, 'changing a rate plan');
  const t = await resolveTenant(deps, actor, ref);
  const { tenant, before } = await tx(deps, async (c) => {
    const cur = (await c.query<{ status: TenantStatus; plan: string | null }>(
      `select t.status, p.name as plan from tenants t left join rate_plans p on p.id = t.rate_plan_id where t.id = $1 for update of t`,
      [t.id.toString()])).rows[0]!;
    if (cur.status === 'terminated') throw new ConflictError(`tenant ${t.code} is terminated`);
    const after = await setTenantRatePlan(c, t.id, planName);
    if (cur.plan !== planName) {
      await recordAudit(c, { actor, action: 'tenant.rate-plan', targetType: 'tenant', targetId: t.id, tenantId: t.id, before: { ratePlan: cur.plan }, after: { ratePlan: planName } });
    }
    return { tenant: after, before: cur.plan };
  });
  return { tenant, before, after: planName, redis: await followState(deps, tenant) };
}

export type StatusVerb = 'suspend' | 'resume' | 'terminate';
const STATUS_OF: Record<StatusVerb, TenantStatus> = { suspend: 'suspended', resume: 'active', terminate: 'terminated' };

/**
 * suspend: new calls refused and live calls cut at once on every instance (the tenant state in Redis is what the
 * charging engine and the SIP app watch); resume: reinstated; terminate: final.
 */
export async function changeStatus(deps: ServiceDeps, actor: Actor, ref: string | bigint, verb: StatusVerb, reason: string | null): Promise<TenantChange & { before: TenantStatus }> {
  requireWriter(actor, `${verb} of a tenant`);
  const t = await resolveTenant(deps, actor, ref);
  const tenant = await tx(deps, async (c) => {
    const after = await setTenantStatus(c, t.id, STATUS_OF[verb], reason);
    if (after.status !== t.status || after.statusReason !== t.statusReason) {
      await recordAudit(c, {
        actor, action: `tenant.${verb}`, targetType: 'tenant', targetId: t.id, tenantId: t.id,
        before: { status: t.status, statusReason: t.statusReason }, after: { status: after.status, statusReason: after.statusReason },
      });
    }
    return after;
  });
  return { tenant, before: t.status, redis: await followState(deps, tenant) };
}

