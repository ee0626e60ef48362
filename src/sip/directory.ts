/**
 * Who may call and where calls go: ingress trunks, numbers with their tenant, carrier gateways, read from
 * PostgreSQL (the system of record) through a short TTL cache so an INVITE costs no query in steady state.
 * Operator changes reach live instances within the TTL, or at once for tenants via invalidateTenant()
 * (called on the charging control channel).
 */
import type { Pool } from '../db/pool.js';
import { timed } from '../observability/metrics.js';
import { enabledGatewayRoutes, numberOwner, trunkForAddress, type Gateway, type IngressTrunk, type NumberOwner } from '../store/directory.js';

export type { Gateway, IngressTrunk, NumberOwner, TenantInfo } from '../store/directory.js';

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
      const trunk = await timed('postgres', 'sip_trunk', () => trunkForAddress(pool, ip)).catch((e: unknown) => {
        // not an IP literal (cannot come from a socket, but be strict): no trunk
        if ((e as { code?: string }).code === '22P02') return null;
        throw e;
      });
      trunks.set(ip, trunk);
      return trunk;
    },

    async numberOwner(e164) {
      const hit = numbers.get(e164);
      if (hit !== undefined) return hit;
      const owner = await timed('postgres', 'sip_number', () => numberOwner(pool, e164));
      numbers.set(e164, owner);
      return owner;
    },

    async gateways() {
      const hit = gws.get('all');
      if (hit) return hit;
      const list = await timed('postgres', 'sip_gateways', () => enabledGatewayRoutes(pool));
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
