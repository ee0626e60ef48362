/**
 * Redis key names of the charging engine, the outbox and the SIP limits (relative to the connection's keyPrefix).
 * One place, so the scripts and every module agree. Layout and reasons: docs/scaling.md ("Key layout").
 *
 * The keyspace is cut into `shards` shards (REDIS_SHARDS, 16 by default). Every key carries the hash tag `{s<k>}`
 * of its shard, so in Redis Cluster all keys of one shard live in one slot, and every Lua step (which only ever
 * touches one tenant, its calls and its shard's leases, expiries and outbox) is a single-slot step. In standalone
 * and Sentinel mode the tags are just part of the names.
 *
 * - a tenant lives in shard `tenantId mod shards` (tenant ids are decimal integers; sequential ids spread evenly);
 * - a call with a tenant lives in its tenant's shard; a call without one (refused before its tenant was known,
 *   e.g. an unknown caller ID) in shard `fnv1a32(utf8(callId)) mod shards`.
 *
 * Changing the number of shards moves tenants between shards: only do it with the procedure in docs/scaling.md.
 */

export const MAX_SHARDS = 1024;

const DECIMAL_ID = /^[0-9]{1,19}$/;

/** FNV-1a, 32 bits, over the UTF-8 bytes of s: a stable, documented hash (any language can recompute it). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface KeyLayout {
  readonly shards: number;
  /** Shard of a tenant: tenantId mod shards. Throws RangeError on a non-decimal id. */
  shardOfTenant(tenantId: string): number;
  /** Shard of a call that has no tenant: fnv1a32(callId) mod shards. */
  shardOfCall(callId: string): number;
  /** Shard of a call: its tenant's, or by call id when it has none (null or ''). */
  shardOf(tenantId: string | null | undefined, callId: string): number;
  /** Every shard number, 0 .. shards-1 (reconcile, the sweeper and the outbox consumer walk them all). */
  all(): number[];
  /** The hash tag of a shard, `{s<k>}`. */
  tag(shard: number): string;

  // --- one tenant (all in the tenant's shard) ---
  /** hash status, start, end, plan, loaded */
  tenant(tenantId: string): string;
  /** hash bucketId → available fen */
  buckets(tenantId: string): string;
  /** hash bucketId → "kind|validFromMs|expiresAtMs" */
  bucketMeta(tenantId: string): string;
  /** set of ledger credit transfer ids applied */
  credits(tenantId: string): string;
  /** hash transferId → "bucketId|amountFen" */
  creditAmounts(tenantId: string): string;
  /** hash bucketId → expiry event counter */
  expirySeq(tenantId: string): string;
  /** set of the tenant's live (reserved, not yet settled) call ids: the divisor of fair sharing */
  calls(tenantId: string): string;

  // --- one call (in its tenant's shard; see shardOf) ---
  call(shard: number, callId: string): string;
  done(shard: number, callId: string): string;

  // --- per shard ---
  /** zset callId → lease end ms, of the calls of this shard's tenants */
  leases(shard: number): string;
  /** zset tenantId → earliest bucket expiry ms, of this shard's tenants */
  expiries(shard: number): string;
  /** stream of CDR/ledger events of this shard */
  outbox(shard: number): string;
  /** stream of this shard's dead letters */
  outboxDead(shard: number): string;
  /** zset stream id → ack time ms of this shard's acknowledged outbox entries */
  outboxAcked(shard: number): string;

  // --- SIP limits of a tenant (src/sip/limits.ts, admit.lua; the tenant's shard) ---
  /** zset callId → lease end ms: the tenant's live calls (concurrency) */
  sipCalls(tenantId: string): string;
  /** counter of admitted calls in one epoch second */
  sipCps(tenantId: string, epochSecond: number): string;
  /** integer fen spent on the calendar day `day` (YYYY-MM-DD in service.timezone) */
  sipSpend(tenantId: string, day: string): string;
}

const layouts = new Map<number, KeyLayout>();

/** The key layout for `shards` shards (1..MAX_SHARDS); one object per shard count. */
export function keyLayout(shards: number): KeyLayout {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new RangeError(`shards must be an integer from 1 to ${MAX_SHARDS}, got ${shards}`);
  let l = layouts.get(shards);
  if (l) return l;
  const n = BigInt(shards);
  const tags = Array.from({ length: shards }, (_, k) => `{s${k}}`);
  const shardOfTenant = (t: string): number => {
    if (!DECIMAL_ID.test(t)) throw new RangeError(`tenant id must be decimal, got ${JSON.stringify(t)}`);
    return Number(BigInt(t) % n);
  };
  const shardOfCall = (callId: string): number => fnv1a32(callId) % shards;
  const tag = (shard: number): string => {
    const t = tags[shard];
    if (t === undefined) throw new RangeError(`shard ${shard} is not in 0..${shards - 1}`);
    return t;
  };
  const t = (tenantId: string, rest: string) => `${tags[shardOfTenant(tenantId)]}:tenant:${tenantId}${rest}`;
  l = {
    shards,
    shardOfTenant,
    shardOfCall,
    shardOf: (tenantId, callId) => (tenantId ? shardOfTenant(tenantId) : shardOfCall(callId)),
    all: () => Array.from({ length: shards }, (_, k) => k),
    tag,
    tenant: (id) => t(id, ''),
    buckets: (id) => t(id, ':buckets'),
    bucketMeta: (id) => t(id, ':bmeta'),
    credits: (id) => t(id, ':credits'),
    creditAmounts: (id) => t(id, ':creditamt'),
    expirySeq: (id) => t(id, ':expseq'),
    calls: (id) => t(id, ':calls'),
    call: (shard, callId) => `${tag(shard)}:call:${callId}`,
    done: (shard, callId) => `${tag(shard)}:done:${callId}`,
    leases: (shard) => `${tag(shard)}:leases`,
    expiries: (shard) => `${tag(shard)}:expiries`,
    outbox: (shard) => `${tag(shard)}:outbox`,
    outboxDead: (shard) => `${tag(shard)}:outbox:dead`,
    outboxAcked: (shard) => `${tag(shard)}:outbox:acked`,
    sipCalls: (id) => `${tags[shardOfTenant(id)]}:sip:calls:${id}`,
    sipCps: (id, sec) => `${tags[shardOfTenant(id)]}:sip:cps:${id}:${sec}`,
    sipSpend: (id, day) => `${tags[shardOfTenant(id)]}:sip:spend:${id}:${day}`,
  };
  layouts.set(shards, l);
  return l;
}

/**
 * Every tenant's SIP calls key (`sipCalls`) on a node, for SCAN (full names: SCAN sees the connection's key prefix):
 * the MATCH pattern, and the tenant id of a key it found (null for a key that only looks alike).
 */
export function sipCallsScan(keyPrefix: string): { match: string; tenantOf(fullKey: string): string | null } {
  const name = new RegExp(`^${keyPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\{s[0-9]+\\}:sip:calls:([0-9]+)$`);
  return { match: `${keyPrefix}*:sip:calls:*`, tenantOf: (fullKey) => name.exec(fullKey)?.[1] ?? null };
}

/** Pub/sub channel of tenant control messages (not a key: ioredis does not prefix channels, so the prefix is added here). */
export function controlChannel(keyPrefix: string): string {
  return `${keyPrefix}control`;
}

/** Bucket metadata as stored for the scripts: "kind|validFromMs|expiresAtMs". */
export function bucketMeta(kind: 'paid' | 'gift', validFrom: Date, expiresAt: Date | null): string {
  return `${kind}|${validFrom.getTime()}|${expiresAt ? expiresAt.getTime() : ''}`;
}
