/**
 * The per-call look-ups of the SIP directory (src/sip/directory.ts caches them): the ingress trunk of a source
 * address, the holder of a calling number with the tenant's limits, the enabled carrier gateways. One statement
 * each; they run on an INVITE only when the directory's cache has no answer.
 */
import type { Pool } from '../db/pool.js';
import type { NumberFormat } from '../sip/normalize.js';

export interface IngressTrunk {
  id: string;
  name: string;
  failurePolicy: 'terminate' | 'continue';
}

export interface TenantInfo {
  id: string;
  code: string;
  status: 'active' | 'suspended' | 'terminated';
  serviceStart: Date | null;
  serviceEnd: Date | null;
  maxConcurrent: number;
  maxCps: number;
  blockedPrefixes: string[];
  allowInternational: boolean;
  callingHoursFrom: string | null; // 'HH:MM:SS' in service.timezone
  callingHoursTo: string | null;
  dailySpendCapFen: bigint | null;
  /** language of its announcements (migration 050) */
  announcementLanguage: 'zh' | 'en';
  /** its callers hear the low-credit warning */
  lowCreditWarning: boolean;
}

export interface NumberOwner {
  e164: string;
  state: 'pending_review' | 'approved' | 'suspended' | 'reclaimed';
  tenant: TenantInfo | null;
}

export interface Gateway {
  id: string;
  name: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  priority: number;
  weight: number;
  numberFormat: NumberFormat;
}

interface TenantRow {
  tenant_id: bigint;
  code: string;
  status: TenantInfo['status'];
  service_start: Date | null;
  service_end: Date | null;
  max_concurrent: number;
  max_cps: number;
  blocked_prefixes: string[];
  allow_international: boolean;
  calling_hours_from: string | null;
  calling_hours_to: string | null;
  daily_spend_cap_fen: bigint | null;
  announcement_language: 'zh' | 'en';
  low_credit_warning: boolean;
}

function toTenant(r: TenantRow): TenantInfo {
  return {
    id: r.tenant_id.toString(),
    code: r.code,
    status: r.status,
    serviceStart: r.service_start,
    serviceEnd: r.service_end,
    maxConcurrent: r.max_concurrent,
    maxCps: r.max_cps,
    blockedPrefixes: r.blocked_prefixes,
    allowInternational: r.allow_international,
    callingHoursFrom: r.calling_hours_from,
    callingHoursTo: r.calling_hours_to,
    dailySpendCapFen: r.daily_spend_cap_fen,
    announcementLanguage: r.announcement_language,
    lowCreditWarning: r.low_credit_warning,
  };
}

/** The enabled trunk whose address (a host or a network) holds `ip`, the most specific first; null when none. */
export async function trunkForAddress(pool: Pool, ip: string): Promise<IngressTrunk | null> {
  // inet containment: a trunk address may be a single host or a network (CIDR)
  const { rows } = await pool.query<{ id: bigint; name: string; failure_policy: IngressTrunk['failurePolicy'] }>(
    `select id, name, failure_policy from ingress_trunks
      where enabled and $1::inet <<= address order by masklen(address) desc, id limit 1`,
    [ip],
  );
  const r = rows[0];
  return r ? { id: r.id.toString(), name: r.name, failurePolicy: r.failure_policy } : null;
}

/** A number with its state and its holder's limits, or null when the number is unknown. */
export async function numberOwner(pool: Pool, e164: string): Promise<NumberOwner | null> {
  const { rows } = await pool.query<TenantRow & { e164: string; state: NumberOwner['state']; has_tenant: boolean }>(
    `select n.e164, n.state, t.id is not null as has_tenant, t.id as tenant_id, t.code, t.status,
            t.service_start, t.service_end, t.max_concurrent, t.max_cps, t.blocked_prefixes,
            t.allow_international, t.calling_hours_from::text, t.calling_hours_to::text, t.daily_spend_cap_fen,
            t.announcement_language, t.low_credit_warning
       from numbers n left join tenants t on t.id = n.tenant_id
      where n.e164 = $1`,
    [e164],
  );
  const r = rows[0];
  return r ? { e164: r.e164, state: r.state, tenant: r.has_tenant ? toTenant(r) : null } : null;
}

/** The enabled carrier gateways in priority order. */
export async function enabledGatewayRoutes(pool: Pool): Promise<Gateway[]> {
  const { rows } = await pool.query<{ id: bigint; name: string; host: string; port: number; transport: Gateway['transport']; priority: number; weight: number; number_format: NumberFormat }>(
    `select id, name, host, port, transport, priority, weight, number_format
       from carrier_gateways where enabled order by priority, id`,
  );
  return rows.map((r) => ({
    id: r.id.toString(), name: r.name, host: r.host, port: r.port, transport: r.transport,
    priority: r.priority, weight: r.weight, numberFormat: r.number_format,
  }));
}
