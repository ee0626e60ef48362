/**
 * Takes the two pictures reconciliation compares, so that they line up: a PostgreSQL REPEATABLE READ snapshot
 * (ledger balances, credit transfers) opened FIRST, then one atomic Redis snapshot (balances, live holds, outbox
 * entries that may not be in PostgreSQL), then — still inside the same PostgreSQL snapshot — which of those outbox
 * events it already contains. An event written after the PostgreSQL snapshot is therefore still counted as "in
 * the outbox", and it cannot have vanished from the stream in between because acked entries are kept for the
 * consumer's ackRetentionMs (and acked-since covers them with a wide margin).
 */
import type { Pool } from '../db/pool.js';
import { withSnapshot } from '../db/tx.js';
import { bucketMeta } from '../charging/keys.js';
import { bucketsOfTenants, creditsOfTenants } from '../store/buckets.js';
import { processedEvents } from '../store/outbox.js';
import type { ChargingRedis } from '../charging/redis.js';
import { defineScripts } from '../charging/scripts.js';
import { GROUP } from '../outbox/stream.js';
import type { LedgerBucket, TenantSnapshot } from './compare.js';

export type { TenantSnapshot };

/**
 * An event committed after the PostgreSQL snapshot was acked after it too, so acked entries since (snapshot -
 * this margin) are re-checked; the margin covers clock skew between the consumer's and this host.
 */
const ACKED_MARGIN_MS = 10_000;
/**
 * Longest the Redis snapshot may come after the PostgreSQL one: acked entries are kept ackRetentionMs (10 min by
 * default) and must still be in the stream when Redis is read. A slower reading is reported as unstable.
 */
export const MAX_SNAPSHOT_SPAN_MS = 60_000;

/** The connection with the scripts defined (scripts.ts, once per connection; createChargingRedis already did it). */
export function withReconcileCommands(redis: ChargingRedis): ChargingRedis {
  return defineScripts(redis);
}

interface Snapshot {
  tenants: TenantSnapshot[];
  unreadableOutboxEntries: string[]; // stream ids whose amounts could not be read (poison; see outbox:dead)
  spanMs: number; // from the PostgreSQL snapshot to the Redis one
}

function pairs(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

function fen(s: string): bigint | null {
  return /^-?[0-9]{1,18}$/.test(s) ? BigInt(s) : null;
}

/** What one snapshot.lua step answers for a shard: tenants, holds of live calls, outbox entries not yet written. */
type Reply = [[string, number, string[], string[], string[]][], [string, string, string, number][], string[][]];

interface Read {
  buckets: Awaited<ReturnType<typeof bucketsOfTenants>>;
  credits: Awaited<ReturnType<typeof creditsOfTenants>>;
  rTenants: Reply[0];
  rHolds: Reply[1];
  rOutbox: Reply[2];
  spanMs: number;
  /** outbox event ids already written to PostgreSQL */
  done: Set<string>;
}

export async function takeSnapshot(pool: Pool, redis: ChargingRedis, tenantIds: string[]): Promise<Snapshot> {
  const prefix = redis.keyPrefix;
  const k = redis.layout;
  const byShard = new Map<number, string[]>();
  for (const t of tenantIds) byShard.set(k.shardOfTenant(t), [...(byShard.get(k.shardOfTenant(t)) ?? []), t]);
  const read = await withSnapshot(pool, async (c): Promise<Read> => {
    const t0 = Date.now();
    const ackedSince = t0 - ACKED_MARGIN_MS;
    // first statement = the snapshot instant
    const buckets = await bucketsOfTenants(c, tenantIds);
    const credits = await creditsOfTenants(c, tenantIds);
    // one atomic step per shard: a tenant, its calls and its shard's outbox are all in one shard
    const replies = await Promise.all([...byShard].map(async ([shard, ts]) => (await redis.reconcileSnapshot(
      k.leases(shard), k.outbox(shard), k.outboxAcked(shard), prefix + k.call(shard, ''), GROUP, ackedSince,
      ...ts.flatMap((t) => [t, prefix + k.tenant(t), prefix + k.buckets(t), prefix + k.bucketMeta(t), prefix + k.credits(t)]),
    )) as Reply));
    const rOutbox = replies.flatMap((r) => r[2]);
    const spanMs = Date.now() - t0;
    const done = await processedEvents(c, [...new Set(rOutbox.map((r) => r[1]!))]);
    return { buckets, credits, rTenants: replies.flatMap((r) => r[0]), rHolds: replies.flatMap((r) => r[1]), rOutbox, spanMs, done };
  });
  return assemble(tenantIds, read);
}

/** The snapshot per tenant from what was read: ledger buckets and credits, Redis balances, holds and the outbox. */
function assemble(tenantIds: string[], { buckets, credits, rTenants, rHolds, rOutbox, spanMs, done }: Read): Snapshot {
  const snaps = new Map<string, TenantSnapshot>();
  for (const [t, loaded, avail, , creditIds] of rTenants) {
    const available = new Map<string, bigint>();
    for (const [b, v] of pairs(avail)) available.set(b, fen(v) ?? 0n);
    snaps.set(t, {
      tenantId: t, ledger: [], ledgerCredits: [], held: new Map(), liveCalls: 0, outbox: new Map(),
      redis: { loaded: loaded === 1, available, credits: new Set(creditIds) },
    });
  }
  for (const r of buckets) {
    snaps.get(r.tenantId.toString())?.ledger.push({ bucketId: r.bucketId.toString(), kind: r.kind, validFrom: r.validFrom, expiresAt: r.expiresAt, balanceFen: r.balanceFen });
  }
  for (const r of credits) snaps.get(r.tenantId.toString())?.ledgerCredits.push(r.transferId.toString());
  for (const [t, b, held, calls] of rHolds) {
    const s = snaps.get(t);
    if (!s) continue;
    s.held.set(b, (s.held.get(b) ?? 0n) + (fen(held) ?? 0n));
    s.liveCalls = calls;
  }
  const unreadable: string[] = [];
  const counted = new Set<string>(); // an event id counts once even if the producer wrote it twice
  for (const [streamId, eventId, t, ...debits] of rOutbox as [string, string, string, ...string[]][]) {
    if (done.has(eventId) || counted.has(eventId)) continue;
    const s = snaps.get(t);
    const amounts = pairs(debits);
    const parsed = [...amounts].map(([b, v]) => [b, fen(v)] as const);
    if (!s || parsed.some(([b, v]) => v === null || v <= 0n || !/^[0-9]+$/.test(b))) {
      unreadable.push(streamId);
      continue;
    }
    counted.add(eventId);
    for (const [b, v] of parsed) s.outbox.set(b, (s.outbox.get(b) ?? 0n) + v!);
  }
  return { tenants: tenantIds.map((t) => snaps.get(t)!).filter(Boolean), unreadableOutboxEntries: unreadable, spanMs };
}

type RepairOutcome =
  | { result: 'repaired' }
  | { result: 'not_loaded' }
  | { result: 'moved'; transferId: string }
  | { result: 'held'; bucketId: string; availableFen: bigint; deltaFen: bigint };

/** Apply -drift to each bucket and record the missing credit ids, atomically (repair.lua). */
export async function repairTenant(
  redis: ChargingRedis,
  tenantId: string,
  corrections: { bucketId: string; deltaFen: bigint; ledger: LedgerBucket | undefined }[],
  missingCredits: string[],
): Promise<RepairOutcome> {
  const argv: (string | number)[] = [corrections.length];
  for (const x of corrections) {
    argv.push(x.bucketId, x.deltaFen.toString(), x.ledger ? bucketMeta(x.ledger.kind, x.ledger.validFrom, x.ledger.expiresAt) : '');
  }
  argv.push(missingCredits.length, ...missingCredits, tenantId);
  const k = redis.layout;
  const r = await redis.reconcileRepair(k.tenant(tenantId), k.buckets(tenantId), k.bucketMeta(tenantId), k.credits(tenantId), k.expiries(k.shardOfTenant(tenantId)), ...argv);
  switch (r[0]) {
    case 'ok':
      return { result: 'repaired' };
    case 'not_loaded':
      return { result: 'not_loaded' };
    case 'moved':
      return { result: 'moved', transferId: String(r[1]) };
    case 'held':
      return { result: 'held', bucketId: String(r[1]), availableFen: BigInt(r[2]!), deltaFen: BigInt(r[3]!) };
    default:
      throw new Error(`repair.lua: unexpected reply ${JSON.stringify(r)}`);
  }
}
