/** Tenants in PostgreSQL: create, read, list, status changes. Rules of status changes are in this file's guards. */
import type { Queryable } from '../ledger/ledger.js';
import { RuleError } from './rules.js';

export type TenantStatus = 'active' | 'suspended' | 'terminated';

export interface Tenant {
  id: bigint;
  code: string;
  legalName: string;
  status: TenantStatus;
  statusReason: string | null;
  serviceStart: Date | null;
  serviceEnd: Date | null;
  ratePlanId: bigint | null;
  notifyEmail: string | null;
  notifySms: string | null;
  notifyWebhook: string | null;
  /** language of e-mail/SMS notices; null = the announcement language */
  notifyLanguage: 'zh' | 'en' | null;
  createdAt: Date;
}

interface Row {
  id: bigint;
  code: string;
  legal_name: string;
  status: TenantStatus;
  status_reason: string | null;
  service_start: Date | null;
  service_end: Date | null;
  rate_plan_id: bigint | null;
  notify_email: string | null;
  notify_sms: string | null;
  notify_webhook: string | null;
  notify_language: 'zh' | 'en' | null;
  created_at: Date;
}

const COLUMNS = 'id, code, legal_name, status, status_reason, service_start, service_end, rate_plan_id, notify_email, notify_sms, notify_webhook, notify_language, created_at';

function toTenant(r: Row): Tenant {
  return {
    id: r.id,
    code: r.code,
    legalName: r.legal_name,
    status: r.status,
    statusReason: r.status_reason,
    serviceStart: r.service_start,
    serviceEnd: r.service_end,
    ratePlanId: r.rate_plan_id,
    notifyEmail: r.notify_email,
    notifySms: r.notify_sms,
    notifyWebhook: r.notify_webhook,
    notifyLanguage: r.notify_language,
    createdAt: r.created_at,
  };
}

export const TENANT_CODE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface NewTenant {
  code: string;
  legalName: string;
  ratePlanId?: bigint | null;
  notifyEmail?: string | null;
  notifySms?: string | null;
  notifyWebhook?: string | null;
}

export function validateNewTenant(t: NewTenant): void {
  if (!TENANT_CODE.test(t.code)) throw new RuleError(`tenant code ${JSON.stringify(t.code)}: use 1-63 of a-z 0-9 _ -, starting with a letter or digit`);
  const name = t.legalName.trim();
  if (name.length < 1 || name.length > 200) throw new RuleError('legal name must be 1-200 characters (bills carry the full legal name)');
  validateNoticeSettings(t);
}

/** Where tenant notices go (contract art. 2.2); null = that channel is off. */
export interface NoticeSettings {
  /** one address, or several comma-separated (at most MAX_NOTICE_EMAILS) */
  notifyEmail: string | null;
  notifySms: string | null;
  notifyWebhook: string | null;
  /** language of e-mail and SMS notices; null = the tenant's announcement language */
  notifyLanguage: 'zh' | 'en' | null;
}

export const MAX_NOTICE_EMAILS = 5;
const EMAIL = /^[^@\s,<>"]{1,64}@[^@\s,<>"]+\.[^@\s,<>"]+$/;

/** "a@x.cn, b@y.cn" → the addresses, trimmed (the stored form is them joined with ", "). */
export function noticeEmails(list: string): string[] {
  return list.split(',').map((a) => a.trim()).filter(Boolean);
}

export function validateNoticeSettings(t: Partial<NoticeSettings>): void {
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
  const cols: [keyof NoticeSettings, string][] = [['notifyEmail', 'notify_email'], ['notifySms', 'notify_sms'], ['notifyWebhook', 'notify_webhook'], ['notifyLanguage', 'notify_language']];
  const sets: string[] = [];
  const params: unknown[] = [tenantId.toString()];
  for (const [k, col] of cols) {
    if (patch[k] === undefined) continue;
    params.push(k === 'notifyEmail' && patch.notifyEmail ? noticeEmails(patch.notifyEmail).join(', ') : patch[k]);
    sets.push(`${col} = $${params.length}`);
  }
  const r = await db.query<Row>(`update tenants set ${[...sets, 'updated_at = now()'].join(', ')} where id = $1 returning ${COLUMNS}`, params);
  if (!r.rows[0]) throw new RuleError(`no tenant ${tenantId}`);
  return toTenant(r.rows[0]);
}

/** Create a tenant; a duplicate code is a RuleError. */
export async function createTenant(db: Queryable, t: NewTenant): Promise<Tenant> {
  validateNewTenant(t);
  try {
    const r = await db.query<Row>(
      `insert into tenants (code, legal_name, rate_plan_id, notify_email, notify_sms, notify_webhook)
       values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
      [t.code, t.legalName.trim(), t.ratePlanId?.toString() ?? null, t.notifyEmail ? noticeEmails(t.notifyEmail).join(', ') : null, t.notifySms ?? null, t.notifyWebhook ?? null],
    );
    return toTenant(r.rows[0]!);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === '23505') throw new RuleError(`tenant ${t.code} already exists`);
    if (code === '23503') throw new RuleError(`rate plan ${t.ratePlanId} does not exist`);
    throw e;
  }
}

/** A tenant by code or numeric id; RuleError when there is none. */
export async function getTenant(db: Queryable, ref: string): Promise<Tenant> {
  const byId = /^[0-9]{1,18}$/.test(ref);
  const r = await db.query<Row>(`select ${COLUMNS} from tenants where ${byId ? 'id = $1::text::int8 or code = $1::text' : 'code = $1'} order by (code = $1::text) desc limit 1`, [ref]);
  if (!r.rows[0]) throw new RuleError(`no tenant ${JSON.stringify(ref)}`);
  return toTenant(r.rows[0]);
}

export async function listTenants(db: Queryable, filter: { status?: TenantStatus } = {}): Promise<Tenant[]> {
  const r = filter.status
    ? await db.query<Row>(`select ${COLUMNS} from tenants where status = $1 order by id`, [filter.status])
    : await db.query<Row>(`select ${COLUMNS} from tenants order by id`);
  return r.rows.map(toTenant);
}

/**
 * Change a tenant's status. Allowed: active ⇄ suspended, active/suspended → terminated. A terminated tenant stays
 * terminated (its numbers and balances are reclaimed/cleared at period end). Setting the current status is a no-op.
 */
export async function setTenantStatus(db: Queryable, tenantId: bigint, status: TenantStatus, reason: string | null): Promise<Tenant> {
  const cur = (await db.query<Row>(`select ${COLUMNS} from tenants where id = $1 for update`, [tenantId.toString()])).rows[0];
  if (!cur) throw new RuleError(`no tenant ${tenantId}`);
  if (cur.status === status) return toTenant(cur);
  if (cur.status === 'terminated') throw new RuleError(`tenant ${cur.code} is terminated and cannot become ${status}`);
  const r = await db.query<Row>(
    `update tenants set status = $2, status_reason = $3, updated_at = now() where id = $1 returning ${COLUMNS}`,
    [tenantId.toString(), status, reason],
  );
  return toTenant(r.rows[0]!);
}

/** Point a tenant at a rate plan (by name). */
export async function setTenantRatePlan(db: Queryable, tenantId: bigint, ratePlanName: string): Promise<Tenant> {
  const p = (await db.query<{ id: bigint }>('select id from rate_plans where name = $1', [ratePlanName])).rows[0];
  if (!p) throw new RuleError(`no rate plan ${JSON.stringify(ratePlanName)}`);
  const r = await db.query<Row>(`update tenants set rate_plan_id = $2, updated_at = now() where id = $1 returning ${COLUMNS}`, [tenantId.toString(), p.id.toString()]);
  if (!r.rows[0]) throw new RuleError(`no tenant ${tenantId}`);
  return toTenant(r.rows[0]);
}

export interface TenantLimits {
  maxConcurrent: number;
  maxCps: number;
  blockedPrefixes: string[];
  allowInternational: boolean;
  callingHours: { from: string; to: string } | null; // 'HH:MM' in the service zone; null = any time
  dailySpendCapFen: bigint | null; // null = no cap
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
  const sets: string[] = [];
  const params: unknown[] = [tenantId.toString()];
  const set = (col: string, v: unknown) => {
    params.push(v);
    sets.push(`${col} = $${params.length}`);
  };
  if (patch.maxConcurrent !== undefined) set('max_concurrent', patch.maxConcurrent);
  if (patch.maxCps !== undefined) set('max_cps', patch.maxCps);
  if (patch.blockedPrefixes !== undefined) set('blocked_prefixes', patch.blockedPrefixes);
  if (patch.allowInternational !== undefined) set('allow_international', patch.allowInternational);
  if (patch.callingHours !== undefined) {
    set('calling_hours_from', patch.callingHours?.from ?? null);
    set('calling_hours_to', patch.callingHours?.to ?? null);
  }
  if (patch.dailySpendCapFen !== undefined) set('daily_spend_cap_fen', patch.dailySpendCapFen?.toString() ?? null);
  const r = await db.query<LimitsRow>(`update tenants set ${[...sets, 'updated_at = now()'].join(', ')} where id = $1 returning ${LIMIT_COLUMNS}`, params);
  const row = r.rows[0];
  if (!row) throw new RuleError(`no tenant ${tenantId}`);
  return toLimits(row);
}

interface LimitsRow {
  max_concurrent: number; max_cps: number; blocked_prefixes: string[]; allow_international: boolean;
  calling_hours_from: string | null; calling_hours_to: string | null; daily_spend_cap_fen: bigint | null;
}
const LIMIT_COLUMNS = 'max_concurrent, max_cps, blocked_prefixes, allow_international, calling_hours_from, calling_hours_to, daily_spend_cap_fen';
const toLimits = (row: LimitsRow): TenantLimits => ({
  maxConcurrent: row.max_concurrent, maxCps: row.max_cps, blockedPrefixes: row.blocked_prefixes, allowInternational: row.allow_international,
  callingHours: row.calling_hours_from && row.calling_hours_to ? { from: row.calling_hours_from.slice(0, 5), to: row.calling_hours_to.slice(0, 5) } : null,
  dailySpendCapFen: row.daily_spend_cap_fen,
});

export async function getTenantLimits(db: Queryable, tenantId: bigint): Promise<TenantLimits> {
  const row = (await db.query<LimitsRow>(`select ${LIMIT_COLUMNS} from tenants where id = $1`, [tenantId.toString()])).rows[0];
  if (!row) throw new RuleError(`no tenant ${tenantId}`);
  return toLimits(row);
}
