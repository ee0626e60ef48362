/**
 * Per-tenant call limits shared by all instances, in Redis: concurrency + CPS admission in one Lua script
 * (src/sip/lua/admit.lua), release on call end, lease renewal for live calls, and the tenant's spend of the
 * day in service.timezone (for the optional daily spend cap; integer fen).
 */
import type { ChargingRedis } from '../charging/redis.js';
import { timed } from '../observability/metrics.js';
import type { Admission } from './decisions.js';

export interface Limits {
  admit(tenantId: string, callId: string, maxConcurrent: number, maxCps: number, now?: number): Promise<Admission>;
  release(tenantId: string, callId: string): Promise<void>;
  /** Extend the lease of live calls so they keep their slot (called periodically). */
  renew(calls: { tenantId: string; callId: string }[], now?: number): Promise<void>;
  spentToday(tenantId: string, now?: number): Promise<bigint>;
  addSpend(tenantId: string, fen: bigint, now?: number): Promise<void>;
  liveCount(tenantId: string, now?: number): Promise<number>;
}

/** Calendar day in the zone, e.g. '2026-11-24'. */
export function dayKey(at: number, timeZone: string): string {
  return dayFormat(timeZone).format(at);
}

// Made once per zone: building an Intl.DateTimeFormat costs ~0.1-0.2 ms, and this runs twice per call (profile,
// docs/performance.md). Zones come from config and tenants, so the map stays small.
const dayFormats = new Map<string, Intl.DateTimeFormat>();
function dayFormat(timeZone: string): Intl.DateTimeFormat {
  let f = dayFormats.get(timeZone);
  if (!f) dayFormats.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  return f;
}

/** Keys (keys.ts): each tenant's limit keys carry its shard's hash tag, so admit.lua is a single-slot step. admit.lua
 * is defined on every charging connection by the one script loader (src/charging/scripts.ts). */
export function createLimits(redis: ChargingRedis, opts: { timeZone: string; leaseMs?: number }): Limits {
  const lease = opts.leaseMs ?? 180_000;
  const k = redis.layout;
  const callsKey = (t: string) => k.sipCalls(t);
  const spendKey = (t: string, at: number) => k.sipSpend(t, dayKey(at, opts.timeZone));
  return {
    admit(tenantId, callId, maxConcurrent, maxCps, now = Date.now()) {
      const sec = Math.floor(now / 1000);
      return timed('redis', 'sip_admit', () => redis.sipAdmit(callsKey(tenantId), k.sipCps(tenantId, sec), callId, now, lease, maxConcurrent, maxCps));
    },
    async release(tenantId, callId) {
      await timed('redis', 'sip_release', () => redis.zrem(callsKey(tenantId), callId));
    },
    async renew(calls, now = Date.now()) {
      if (!calls.length) return;
      // one pipeline per shard: Redis Cluster runs a pipeline on one node only
      const byShard = new Map<number, typeof calls>();
      for (const c of calls) byShard.set(k.shardOfTenant(c.tenantId), [...(byShard.get(k.shardOfTenant(c.tenantId)) ?? []), c]);
      await timed('redis', 'sip_renew', () => Promise.all([...byShard.values()].map((group) => {
        const p = redis.pipeline();
        for (const c of group) {
          p.zadd(callsKey(c.tenantId), 'XX', now + lease, c.callId);
          p.pexpire(callsKey(c.tenantId), lease * 2);
        }
        return p.exec();
      })));
    },
    async spentToday(tenantId, now = Date.now()) {
      const v = await timed('redis', 'sip_spend_get', () => redis.get(spendKey(tenantId, now)));
      return BigInt(v ?? '0');
    },
    async addSpend(tenantId, fen, now = Date.now()) {
      if (fen <= 0n) return;
      const k = spendKey(tenantId, now);
      await timed('redis', 'sip_spend_add', () => redis.multi().incrby(k, fen.toString()).expire(k, 3 * 86400).exec());
    },
    async liveCount(tenantId, now = Date.now()) {
      return redis.zcount(callsKey(tenantId), now, '+inf');
    },
  };
}
