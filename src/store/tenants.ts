/**
 * SQL of tenants: the record, its status, notice channels, call limits, rate plan, service period, the overdue
 * suspension mark and the announcement settings. Rules (what may change, validation) are src/tenants/tenants.ts's.
 */
import type { Queryable } from '../db/tx.js';
import type { Language } from '../media/prompts.js';

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

/** Insert a tenant; PostgreSQL's refusals (23505 duplicate code, 23503 unknown rate plan) are thrown as they are. */
export async function insertTenant(
  db: Queryable, t: { code: string; legalName: string; ratePlanId: bigint | null; notifyEmail: string | null; notifySms: string | null; notifyWebhook: string | null },
): Promise<Tenant> {
  const r = await db.query<Row>(
    `insert into tenants (code, legal_name, rate_plan_id, notify_email, notify_sms, notify_webhook)
     values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
    [t.code, t.legalName, t.ratePlanId?.toString() ?? null, t.notifyEmail, t.notifySms, t.notifyWebhook],
  );
  return toTenant(r.rows[0]!);
}

/** A tenant by its code, or null. */
export async function tenantByCode(db: Queryable, code: string): Promise<Tenant | null> {
  const r = await db.query<Row>(`select ${COLUMNS} from tenants where code = $1`, [code]);
  return r.rows[0] ? toTenant(r.rows[0]) : null;
}

/** For a reference made only of digits: the tenant with that id and the tenant with that code (either may be null). */
export async function tenantsByNumber(db: Queryable, digits: string): Promise<{ byId: Tenant | null; byCode: Tenant | null }> {
  const r = await db.query<Row>(`select ${COLUMNS} from tenants where id = $1::text::int8 or code = $1::text`, [digits]);
  const rows = r.rows.map(toTenant);
  return { byId: rows.find((t) => t.id.toString() === digits.replace(/^0+(?=\d)/, '')) ?? null, byCode: rows.find((t) => t.code === digits) ?? null };
}

/** Tenants whose code is made only of digits (possible in databases from before such codes were refused). */
export async function numericCodeTenants(db: Queryable): Promise<{ id: bigint; code: string }[]> {
  return (await db.query<{ id: bigint; code: string }>(`select id, code from tenants where code ~ '^[0-9]+$' order by id`)).rows;
}

/** A tenant by id, or null; forUpdate locks its row until the caller's transaction ends. */
export async function tenantById(db: Queryable, tenantId: bigint, opts: { forUpdate?: boolean } = {}): Promise<Tenant | null> {
  const r = await db.query<Row>(`select ${COLUMNS} from tenants where id = $1${opts.forUpdate ? ' for update' : ''}`, [tenantId.toString()]);
  return r.rows[0] ? toTenant(r.rows[0]) : null;
}

export async function listTenants(db: Queryable, filter: { status?: TenantStatus } = {}): Promise<Tenant[]> {
  const r = filter.status
    ? await db.query<Row>(`select ${COLUMNS} from tenants where status = $1 order by id`, [filter.status])
    : await db.query<Row>(`select ${COLUMNS} from tenants order by id`);
  return r.rows.map(toTenant);
}

export async function countTenants(db: Queryable): Promise<number> {
  return Number((await db.query<{ n: string }>('select count(*)::text as n from tenants')).rows[0]?.n ?? 0);
}

/** Codes of tenants by id (decimal id → code). */
export async function tenantCodes(db: Queryable, tenantIds: bigint[]): Promise<Map<string, string>> {
  const codes = new Map<string, string>();
  if (tenantIds.length === 0) return codes;
  const r = await db.query<{ id: bigint; code: string }>('select id, code from tenants where id = any($1::int8[])', [tenantIds.map(String)]);
  for (const t of r.rows) codes.set(t.id.toString(), t.code);
  return codes;
}

export async function updateTenantStatus(db: Queryable, tenantId: bigint, status: TenantStatus, reason: string | null): Promise<Tenant> {
  const r = await db.query<Row>(
    `update tenants set status = $2, status_reason = $3, updated_at = now() where id = $1 returning ${COLUMNS}`,
    [tenantId.toString(), status, reason],
  );
  return toTenant(r.rows[0]!);
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

/** Write the notice channels given (undefined keys stay); null when there is no such tenant. */
export async function updateNoticeSettings(db: Queryable, tenantId: bigint, patch: Partial<NoticeSettings>): Promise<Tenant | null> {
  const cols: [keyof NoticeSettings, string][] = [['notifyEmail', 'notify_email'], ['notifySms', 'notify_sms'], ['notifyWebhook', 'notify_webhook'], ['notifyLanguage', 'notify_language']];
  const sets: string[] = [];
  const params: unknown[] = [tenantId.toString()];
  for (const [k, col] of cols) {
    if (patch[k] === undefined) continue;
    params.push(patch[k]);
    sets.push(`${col} = $${params.length}`);
  }
  const r = await db.query<Row>(`update tenants set ${[...sets, 'updated_at = now()'].join(', ')} where id = $1 returning ${COLUMNS}`, params);
  return r.rows[0] ? toTenant(r.rows[0]) : null;
}

export async function updateTenantRatePlan(db: Queryable, tenantId: bigint, ratePlanId: bigint): Promise<Tenant | null> {
  const r = await db.query<Row>(`update tenants set rate_plan_id = $2, updated_at = now() where id = $1 returning ${COLUMNS}`, [tenantId.toString(), ratePlanId.toString()]);
  return r.rows[0] ? toTenant(r.rows[0]) : null;
}

/** The tenant's status and rate plan name, its row locked until the caller's transaction ends; null when none. */
export async function ratePlanForUpdate(db: Queryable, tenantId: bigint): Promise<{ status: TenantStatus; plan: string | null } | null> {
  return (await db.query<{ status: TenantStatus; plan: string | null }>(
    `select t.status, p.name as plan from tenants t left join rate_plans p on p.id = t.rate_plan_id where t.id = $1 for update of t`,
    [tenantId.toString()])).rows[0] ?? null;
}

/** The service period counts from the first activation and runs to the newest order's end. */
export async function setServicePeriod(db: Queryable, tenantId: bigint, start: Date, end: Date): Promise<void> {
  await db.query(`update tenants set service_start = $2, service_end = $3, updated_at = now() where id = $1`, [tenantId.toString(), start, end]);
}

export interface TenantLimits {
  maxConcurrent: number;
  maxCps: number;
  blockedPrefixes: string[];
  allowInternational: boolean;
  callingHours: { from: string; to: string } | null; // 'HH:MM' in the service zone; null = any time
  dailySpendCapFen: bigint | null; // null = no cap
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

/** A tenant's call limits, or null when there is no such tenant. */
export async function tenantLimits(db: Queryable, tenantId: bigint): Promise<TenantLimits | null> {
  const row = (await db.query<LimitsRow>(`select ${LIMIT_COLUMNS} from tenants where id = $1`, [tenantId.toString()])).rows[0];
  return row ? toLimits(row) : null;
}

/** Write the limits given (undefined keys stay); null when there is no such tenant. */
export async function updateTenantLimits(db: Queryable, tenantId: bigint, patch: Partial<TenantLimits>): Promise<TenantLimits | null> {
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
  return r.rows[0] ? toLimits(r.rows[0]) : null;
}

/** When the overdue job suspended the tenant (null: it did not), with its status; the row locked. */
export async function overdueSuspensionForUpdate(db: Queryable, tenantId: bigint): Promise<{ suspendedAt: Date | null; status: TenantStatus } | null> {
  const r = (await db.query<{ overdue_suspended_at: Date | null; status: TenantStatus }>('select overdue_suspended_at, status from tenants where id = $1 for update', [tenantId.toString()])).rows[0];
  return r ? { suspendedAt: r.overdue_suspended_at, status: r.status } : null;
}

/** Mark (at) or clear (null) the tenant's suspension for overdue debt, so a payment lifts only that one. */
export async function setOverdueSuspendedAt(db: Queryable, tenantId: bigint, at: Date | null): Promise<void> {
  if (at === null) await db.query('update tenants set overdue_suspended_at = null where id = $1', [tenantId.toString()]);
  else await db.query('update tenants set overdue_suspended_at = $2 where id = $1', [tenantId.toString(), at]);
}

interface AnnouncementRow {
  id: bigint;
  code: string;
  language: Language;
  lowCreditWarning: boolean;
}

/** A tenant's announcement settings, or null; forUpdate locks the row. */
export async function announcementSettings(db: Queryable, tenantId: bigint, forUpdate: boolean): Promise<AnnouncementRow | null> {
  const { rows } = await db.query<{ id: bigint; code: string; announcement_language: Language; low_credit_warning: boolean }>(
    `select id, code, announcement_language, low_credit_warning from tenants where id = $1${forUpdate ? ' for update' : ''}`,
    [tenantId.toString()],
  );
  const t = rows[0];
  return t ? { id: t.id, code: t.code, language: t.announcement_language, lowCreditWarning: t.low_credit_warning } : null;
}

export async function updateAnnouncementSettings(db: Queryable, tenantId: bigint, language: Language, lowCreditWarning: boolean): Promise<void> {
  await db.query('update tenants set announcement_language = $2, low_credit_warning = $3, updated_at = now() where id = $1', [tenantId, language, lowCreditWarning]);
}
