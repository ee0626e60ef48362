/**
 * Tenant operations: create, notice settings, limits, rate plan, suspend / resume / terminate, and the reads the CLI, the API
 * and the portal show. PostgreSQL first (with the audit row in the same transaction), then Redis follows.
 */
import { recordAudit } from '../store/audit.js';
import { tenantBuckets, type BucketBalance } from '../store/buckets.js';
import { listNumbers, type PhoneNumber } from '../store/numbers.js';
import { activeOrder, type Order } from '../store/orders.js';
import { ratePlanName } from '../store/rates.js';
import { listTenants as selectTenants, ratePlanForUpdate, tenantById, type NoticeSettings, type Tenant, type TenantLimits, type TenantStatus } from '../store/tenants.js';
import type { SyncOutcome } from '../tenants/sync.js';
import {
  createTenant as insertTenant, getTenantLimits, parseCallingHours, setNoticeSettings, setTenantLimits, setTenantRatePlan, setTenantStatus,
} from '../tenants/tenants.js';
import { systemResolver, webhookTarget } from '../notify/webhook-target.js';
import type { Actor, ServiceDeps } from './context.js';
import { cnyInput, followState, requireWriter, resolveTenant, tx } from './common.js';
import { ConflictError, InputError } from './errors.js';

export type { Tenant, TenantStatus };

interface TenantChange {
  tenant: Tenant;
  redis: SyncOutcome;
}

interface NewTenantInput {
  code: string;
  legalName: string;
  ratePlan?: string | null;
  notifyEmail?: string | null;
  notifySms?: string | null;
  notifyWebhook?: string | null;
}

/**
 * A webhook URL being set must reach a public address (its host resolved now; the notifier checks again at every
 * send): InputError otherwise. A URL that is no http(s) URL at all is left to the tenant rules' own message.
 */
async function checkWebhook(deps: ServiceDeps, raw: string | null | undefined): Promise<void> {
  if (!raw) return;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
  const t = await webhookTarget(url, deps.config.notify.webhookAllowCidrs, deps.resolveHost ?? systemResolver);
  if (!t.ok) throw new InputError('notifyWebhook', t.message);
}

export async function createTenant(deps: ServiceDeps, actor: Actor, input: NewTenantInput): Promise<TenantChange> {
  requireWriter(actor, 'creating a tenant');
  await checkWebhook(deps, input.notifyWebhook);
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

interface TenantOverview {
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
    t.ratePlanId === null ? null : ratePlanName(deps.pool, t.ratePlanId),
  ]);
  return { tenant: t, ratePlan: plan, activeOrder: order, numbers, buckets };
}

/** Notice channels: an operator-admin for any tenant, a tenant for itself (contract art. 2.2). */
export async function updateNoticeSettings(deps: ServiceDeps, actor: Actor, ref: string | bigint, patch: Partial<NoticeSettings>): Promise<Tenant> {
  if (actor.kind !== 'tenant') requireWriter(actor, 'changing notice settings');
  const t = await resolveTenant(deps, actor, ref);
  await checkWebhook(deps, patch.notifyWebhook);
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

/**
 * A call-limit change as the CLI and the API take it: numbers as numbers, the rest as text. blockedPrefixes: a list,
 * or one comma-separated text ("" = none); callingHours: HH:MM-HH:MM or any; dailySpendCap: CNY, null = no cap.
 */
export interface LimitsPatch {
  maxConcurrent?: number;
  maxCps?: number;
  blockedPrefixes?: string[] | string;
  allowInternational?: boolean;
  callingHours?: string;
  dailySpendCap?: string | null;
}

/** How the interface names the fields that are parsed from text (API body.x, CLI --x), for InputError. */
type LimitsFieldNames = Record<'callingHours' | 'dailySpendCap', string>;

/** The limits patch parsed (every limit's own range is checked by setTenantLimits). */
function parseLimitsPatch(p: LimitsPatch, field: LimitsFieldNames): Partial<TenantLimits> {
  const out: Partial<TenantLimits> = {};
  if (p.maxConcurrent !== undefined) out.maxConcurrent = p.maxConcurrent;
  if (p.maxCps !== undefined) out.maxCps = p.maxCps;
  if (p.blockedPrefixes !== undefined) {
    out.blockedPrefixes = typeof p.blockedPrefixes === 'string' ? p.blockedPrefixes.split(',').map((x) => x.trim()).filter(Boolean) : p.blockedPrefixes;
  }
  if (p.allowInternational !== undefined) out.allowInternational = p.allowInternational;
  if (p.callingHours !== undefined) {
    try {
      out.callingHours = parseCallingHours(p.callingHours);
    } catch (e) {
      throw new InputError(field.callingHours, (e as Error).message);
    }
  }
  if (p.dailySpendCap !== undefined) out.dailySpendCapFen = p.dailySpendCap === null ? null : cnyInput(field.dailySpendCap, p.dailySpendCap);
  return out;
}

/** Change some call limits; SIP instances apply them within their directory cache time. */
export async function updateLimits(
  deps: ServiceDeps, actor: Actor, ref: string | bigint, patch: LimitsPatch, field: LimitsFieldNames,
): Promise<{ tenant: Tenant; limits: TenantLimits }> {
  const change = parseLimitsPatch(patch, field);
  requireWriter(actor, 'changing call limits');
  const t = await resolveTenant(deps, actor, ref);
  const limits = await tx(deps, async (c) => {
    await tenantById(c, t.id, { forUpdate: true });
    const before = await getTenantLimits(c, t.id);
    const after = await setTenantLimits(c, t.id, change);
    await recordAudit(c, { actor, action: 'tenant.limits', targetType: 'tenant', targetId: t.id, tenantId: t.id, before, after });
    return after;
  });
  return { tenant: t, limits };
}

interface RatePlanChange extends TenantChange {
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
    const cur = (await ratePlanForUpdate(c, t.id))!;
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

