/**
 * Who may call and where calls go: ingress trunks, numbers with their tenant, carrier gateways, read from
 * PostgreSQL (the system of record) through a short TTL cache so an INVITE costs no query in steady state.
 * Operator changes reach live instances within the TTL, or at once for tenants via invalidateTenant()
 * (called on the charging control channel).
 */
import type { Pool } from '../db/pool.js';
import { timed } from '../observability/metrics.js';
import type { NumberFormat } from './normalize.js';

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

interface Entry<T> {
  value: T;
  until: number;
}

/** Keyed by remote data (source address, calling number): bounded, oldest entries go first when it is full. */
class TtlCache<T> {
  private readonly map = new Map<string, Entry<T>>();
  constructor(private readonly ttlMs: number, private readonly now: () => number, private readonly maxEntries: number) {}
  get size(): number {
    return this.map.size;
  }
  get(k: string): T | undefined {
    const e = this.map.get(k);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.map.delete(k);
      return undefined;
    }
    return e.value;
  }
  set(k: string, v: T): void {
    if (this.ttlMs <= 0) return;
    this.map.delete(k);
    if (this.map.size >= this.maxEntries) {
      const t = this.now();
      for (const [key, e] of this.map) if (e.until <= t) this.map.delete(key);
      for (const key of this.map.keys()) {
        if (this.map.size < this.maxEntries) break;
        this.map.delete(key);
      }
    }
    this.map.set(k, { value: v, until: this.now() + this.ttlMs });
  }
  deleteWhere(pred: (v: T) => boolean): void {
    for (const [k, e] of this.map) if (pred(e.value)) this.map.delete(k);
  }
  clear(): void {
    this.map.clear();
  }
}

export interface Directory {
  trunkForAddress(ip: string): Promise<IngressTrunk | null>;
  numberOwner(e164: string): Promise<NumberOwner | null>;
  gateways(): Promise<Gateway[]>;
  invalidateTenant(tenantId: string): void;
  invalidateAll(): void;
  /** Entries cached (trunk lookups, number owners): bounded by maxEntries each. */
  cached(): { trunks: number; numbers: number };
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

export function createDirectory(pool: Pool, opts: { ttlMs?: number; now?: () => number; maxEntries?: number } = {}): Directory {
  const ttl = opts.ttlMs ?? 5000;
  const now = opts.now ?? Date.now;
  const max = opts.maxEntries ?? 10_000;
  const trunks = new TtlCache<IngressTrunk | null>(ttl, now, max);
  const numbers = new TtlCache<NumberOwner | null>(ttl, now, max);
  const gws = new TtlCache<Gateway[]>(ttl, now, 1);

  return {
    async trunkForAddress(ip) {
      const hit = trunks.get(ip);
      if (hit !== undefined) return hit;
      // inet containment: a trunk address may be a single host or a network (CIDR)
      const { rows } = await timed('postgres', 'sip_trunk', () =>
        pool.query<{ id: bigint; name: string; failure_policy: IngressTrunk['failurePolicy'] }>(
          `select id, name, failure_policy from ingress_trunks
            where enabled and $1::inet <<= address order by masklen(address) desc, id limit 1`,
          [ip],
        ),
      ).catch((e: unknown) => {
        // not an IP literal (cannot come from a socket, but be strict): no trunk
        if ((e as { code?: string }).code === '22P02') return { rows: [] };
        throw e;
      });
      const r = rows[0];
      const trunk = r ? { id: r.id.toString(), name: r.name, failurePolicy: r.failure_policy } : null;
      trunks.set(ip, trunk);
      return trunk;
    },

    async numberOwner(e164) {
      const hit = numbers.get(e164);
      if (hit !== undefined) return hit;
      const { rows } = await timed('postgres', 'sip_number', () =>
        pool.query<TenantRow & { e164: string; state: NumberOwner['state']; has_tenant: boolean }>(
          `select n.e164, n.state, t.id is not null as has_tenant, t.id as tenant_id, t.code, t.status,
                  t.service_start, t.service_end, t.max_concurrent, t.max_cps, t.blocked_prefixes,
                  t.allow_international, t.calling_hours_from::text, t.calling_hours_to::text, t.daily_spend_cap_fen,
                  t.announcement_language, t.low_credit_warning
             from numbers n left join tenants t on t.id = n.tenant_id
            where n.e164 = $1`,
          [e164],
        ),
      );
      const r = rows[0];
      const owner = r ? { e164: r.e164, state: r.state, tenant: r.has_tenant ? toTenant(r) : null } : null;
      numbers.set(e164, owner);
      return owner;
    },

    async gateways() {
      const hit = gws.get('all');
      if (hit) return hit;
      const { rows } = await timed('postgres', 'sip_gateways', () =>
        pool.query<{ id: bigint; name: string; host: string; port: number; transport: Gateway['transport']; priority: number; weight: number; number_format: NumberFormat }>(
          `select id, name, host, port, transport, priority, weight, number_format
             from carrier_gateways where enabled order by priority, id`,
        ),
      );
      const list = rows.map((r) => ({
        id: r.id.toString(), name: r.name, host: r.host, port: r.port, transport: r.transport,
        priority: r.priority, weight: r.weight, numberFormat: r.number_format,
      }));
      gws.set('all', list);
      return list;
    },

    invalidateTenant(tenantId) {
      numbers.deleteWhere((o) => o?.tenant?.id === tenantId);
    },

    invalidateAll() {
      trunks.clear();
      numbers.clear();
      gws.clear();
    },

    cached() {
      return { trunks: trunks.size, numbers: numbers.size };
    },
  };
}
