/** Tenants: validation of what is stored, and the rules of status, rate plan and limit changes (SQL in src/store/tenants.ts). */
import type { Queryable } from '../db/tx.js';
import { ratePlanIdByName } from '../store/rates.js';
import {
  insertTenant, tenantByCode, tenantById, tenantsByNumber, tenantLimits, updateNoticeSettings, updateTenantLimits, updateTenantRatePlan, updateTenantStatus,
  type NoticeSettings, type Tenant, type TenantLimits, type TenantStatus,
} from '../store/tenants.js';
import { RuleError } from './rules.js';

const TENANT_CODE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** A reference made only of digits names an id (so a code never may be only digits); `#<digits>` is always an id. */
const NUMBER_REF = /^[0-9]{1,18}$/;
const ID_REF = /^#([0-9]{1,18})$/;

interface NewTenant {
  code: string;
  legalName: string;
  ratePlanId?: bigint | null;
  notifyEmail?: string | null;
  notifySms?: string | null;
  notifyWebhook?: string | null;
}

function validateNewTenant(t: NewTenant): void {
  if (!TENANT_CODE.test(t.code) || NUMBER_REF.test(t.code)) {
    throw new RuleError(`tenant code ${JSON.stringify(t.code)}: use 1-63 of a-z 0-9 _ -, starting with a letter or digit, not only digits (a number names a tenant by its id)`);
  }
  const name = t.legalName.trim();
  if (name.length < 1 || name.length > 200) throw new RuleError('legal name must be 1-200 characters (bills carry the full legal name)');
  validateNoticeSettings(t);
}

export const MAX_NOTICE_EMAILS = 5;
const EMAIL = /^[^@\s,<>"]{1,64}@[^@\s,<>"]+\.[^@\s,<>"]+$/;

/** "a@x.cn, b@y.cn" → the addresses, trimmed (the stored form is them joined with ", "). */
function noticeEmails(list: string): string[] {
  return list.split(',').map((a) => a.trim()).filter(Boolean);
}

function validateNoticeSettings(t: Partial<NoticeSettings>): void {
  if (t.notifyEmail) {
    const all = noticeEmails(t.notifyEmail);
    const bad = all.find((a) => !EMAIL.test(a));
    if (bad !== undefined || all.length === 0) throw new RuleError(`not an e-mail address: ${JSON.stringify(bad ?? t.notifyEmail)}`);
    if (all.length > MAX_NOTICE_EMAILS) throw new RuleError(`at most ${MAX_NOTICE_EMAILS} notice e-mail addresses, got ${all.length}`);
  }
  if (t.notifyLanguage != null && t.notifyLanguage !== 'zh' && t.notifyLanguage !== 'en') throw new RuleError(`notice language must be zh or en, got ${JSON.stringify(t.notifyLanguage)}`);
  if (t.notifySms && !/^\+?[0-9]{6,15}$/.test(t.notifySms)) throw new RuleError(`not a phone number: ${JSON.stringify(t.notifySms)}`);
  if (t.notifyWebhook && !/^https?:\/\/\S{1,500}$/.test(t.notifyWebhook)) throw new RuleError(`not an http(s) URL: ${JSON.stringify(t.notifyWebhook)}`);
}

/** Change some notice channels (only the keys given; null switches a channel off). */
export async function setNoticeSettings(db: Queryable, tenantId: bigint, patch: Partial<NoticeSettings>): Promise<Tenant> {
  validateNoticeSettings(patch);
  const stored = patch.notifyEmail ? { ...patch, notifyEmail: noticeEmails(patch.notifyEmail).join(', ') } : patch;
  const t = await updateNoticeSettings(db, tenantId, stored);
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  return t;
}

/** Create a tenant; a duplicate code is a RuleError. */
export async function createTenant(db: Queryable, t: NewTenant): Promise<Tenant> {
  validateNewTenant(t);
  try {
    return await insertTenant(db, {
      code: t.code, legalName: t.legalName.trim(), ratePlanId: t.ratePlanId ?? null, notifyEmail: t.notifyEmail ? noticeEmails(t.notifyEmail).join(', ') : null,
      notifySms: t.notifySms ?? null, notifyWebhook: t.notifyWebhook ?? null,
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === '23505') throw new RuleError(`tenant ${t.code} already exists`);
    if (code === '23503') throw new RuleError(`rate plan ${t.ratePlanId} does not exist`);
    throw e;
  }
}

/**
 * A reference that could mean two tenants: digits that are one tenant's id and another's code (a code made only of
 * digits, from a database older than the rule refusing them). Refused rather than guessed.
 */
export class AmbiguousTenantError extends RuleError {
  constructor(ref: string, byId: Tenant, byCode: Tenant) {
    super(`tenant reference ${JSON.stringify(ref)} is ambiguous: #${byId.id} is tenant ${JSON.stringify(byId.code)} and #${byCode.id} has the code ${JSON.stringify(byCode.code)} `
      + `(a code made only of digits, from before such codes were refused); name the tenant you mean by its id as #${byId.id} or #${byCode.id}`);
    this.name = 'AmbiguousTenantError';
  }
}

/**
 * A tenant by reference: an id (bigint, `#<id>`, or digits), else a code; RuleError when there is none. Digits that
 * are also some other tenant's code (only a legacy code can be) are an AmbiguousTenantError; digits that are only a
 * legacy code name that tenant, as before.
 */
export async function getTenant(db: Queryable, ref: string | bigint): Promise<Tenant> {
  const missing = () => new RuleError(`no tenant ${JSON.stringify(typeof ref === 'bigint' ? `#${ref}` : ref)}`);
  if (typeof ref === 'bigint') return (await tenantById(db, ref)) ?? Promise.reject(missing());
  const id = ID_REF.exec(ref);
  if (id) return (await tenantById(db, BigInt(id[1]!))) ?? Promise.reject(missing());
  if (!NUMBER_REF.test(ref)) return (await tenantByCode(db, ref)) ?? Promise.reject(missing());
  const { byId, byCode } = await tenantsByNumber(db, ref);
  if (byId && byCode && byId.id !== byCode.id) throw new AmbiguousTenantError(ref, byId, byCode);
  return byCode ?? byId ?? Promise.reject(missing());
}

/**
 * Change a tenant's status. Allowed: active ⇄ suspended, active/suspended → terminated. A terminated tenant stays
 * terminated (its numbers and balances are reclaimed/cleared at period end). Setting the current status is a no-op.
 */
export async function setTenantStatus(db: Queryable, tenantId: bigint, status: TenantStatus, reason: string | null): Promise<Tenant> {
  const cur = await tenantById(db, tenantId, { forUpdate: true });
  if (!cur) throw new RuleError(`no tenant ${tenantId}`);
  if (cur.status === status) return cur;
  if (cur.status === 'terminated') throw new RuleError(`tenant ${cur.code} is terminated and cannot become ${status}`);
  return updateTenantStatus(db, tenantId, status, reason);
}

/** Point a tenant at a rate plan (by name). */
export async function setTenantRatePlan(db: Queryable, tenantId: bigint, ratePlanName: string): Promise<Tenant> {
  const planId = await ratePlanIdByName(db, ratePlanName);
  if (planId === null) throw new RuleError(`no rate plan ${JSON.stringify(ratePlanName)}`);
  const t = await updateTenantRatePlan(db, tenantId, planId);
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  return t;
}

/** 'HH:MM-HH:MM' (from < to or wrapping past midnight) or 'any' → calling hours. */
export function parseCallingHours(text: string): TenantLimits['callingHours'] {
  if (text === 'any') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new RuleError(`calling hours must be HH:MM-HH:MM (e.g. 08:00-21:00) or any, got ${JSON.stringify(text)}`);
  const from = `${m[1]}:${m[2]}`;
  const to = `${m[3]}:${m[4]}`;
  if (from === to) throw new RuleError('calling hours: start and end must differ');
  return { from, to };
}

/** Update some of a tenant's call limits (SIP instances pick them up within their directory cache TTL). */
export async function setTenantLimits(db: Queryable, tenantId: bigint, patch: Partial<TenantLimits>): Promise<TenantLimits> {
  const bad = (msg: string): never => {
    throw new RuleError(msg);
  };
  if (patch.maxConcurrent !== undefined && (!Number.isInteger(patch.maxConcurrent) || patch.maxConcurrent < 0 || patch.maxConcurrent > 100_000)) bad('max concurrent calls must be 0-100000');
  if (patch.maxCps !== undefined && (!Number.isInteger(patch.maxCps) || patch.maxCps < 0 || patch.maxCps > 10_000)) bad('max calls per second must be 0-10000');
  if (patch.blockedPrefixes?.some((p) => !/^[0-9]{1,20}$/.test(p))) bad('blocked prefixes must be 1-20 digits each');
  if (patch.dailySpendCapFen != null && patch.dailySpendCapFen < 0n) bad('daily spend cap must be >= 0');
  const limits = await updateTenantLimits(db, tenantId, patch);
  if (!limits) throw new RuleError(`no tenant ${tenantId}`);
  return limits;
}

export async function getTenantLimits(db: Queryable, tenantId: bigint): Promise<TenantLimits> {
  const limits = await tenantLimits(db, tenantId);
  if (!limits) throw new RuleError(`no tenant ${tenantId}`);
  return limits;
}
