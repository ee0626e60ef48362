/**
 * The Redis side of the outbox consumer: one stream per key shard (`{s<k>}:outbox`, keys.ts), each read in consumer
 * group `ledger-writer` (own pending entries, stale entries of dead consumers, new entries), acknowledging,
 * dead-lettering (`{s<k>}:outbox:dead`), trimming and measuring the backlog. Every Lua step here touches the keys of
 * one shard only (one slot in Redis Cluster). Key names are relative to the connection's keyPrefix.
 */
import type { KeyLayout } from '../charging/keys.js';
import { isCluster, type RedisClient } from '../charging/redis.js';
import { defineScripts, type ScriptCommands } from '../charging/scripts.js';
import { deadEventTenants } from './event.js';

export const GROUP = 'ledger-writer';

export interface Entry {
  shard: number;
  id: string; // stream id within the shard's stream
  raw: string | null; // field `event`, null when missing
}

export type OutboxRedis = RedisClient & Pick<ScriptCommands, 'outboxAck' | 'outboxDead' | 'outboxTrim' | 'outboxReplay'> & { readonly layout: KeyLayout };

/** Make sure the connection has the scripts (scripts.ts, once per connection) and give it the key layout. */
export function withOutboxCommands(redis: RedisClient, layout: KeyLayout): OutboxRedis {
  const r = defineScripts(redis) as RedisClient & ScriptCommands & { layout?: KeyLayout };
  if (!('layout' in r)) Object.defineProperty(r, 'layout', { value: layout, enumerable: false });
  return r as OutboxRedis;
}

/** Create the shard's consumer group (from the start of the stream, so events written before any consumer ran count). */
export async function ensureGroup(redis: OutboxRedis, shard: number): Promise<void> {
  try {
    await redis.xgroup('CREATE', redis.layout.outbox(shard), GROUP, '0', 'MKSTREAM');
  } catch (e) {
    if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
  }
}

type RawEntry = [string, string[] | null];

function toEntry(shard: number, [id, fields]: RawEntry): Entry {
  let raw: string | null = null;
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === 'event') raw = fields[i + 1]!;
  return { shard, id, raw };
}

/** Entries of an XREADGROUP reply, each tagged with the shard its stream belongs to. */
function entriesOf(redis: OutboxRedis, shards: number[], reply: unknown): Entry[] {
  const streams = reply as [string, RawEntry[]][] | null;
  if (!streams) return [];
  const prefix = redis.options.keyPrefix ?? '';
  const byKey = new Map(shards.map((s) => [prefix + redis.layout.outbox(s), s]));
  // an entry deleted while pending comes back with no fields; it cannot be processed and is skipped by callers
  return streams.flatMap(([key, rows]) => rows.map((r) => toEntry(byKey.get(key)!, r)));
}

/** Entries of the shard delivered to this consumer and not acknowledged (after a failure or a restart under the same name). */
export async function readOwnPending(redis: OutboxRedis, shard: number, consumer: string, count: number): Promise<Entry[]> {
  return entriesOf(redis, [shard], await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', redis.layout.outbox(shard), '0'));
}

/**
 * New entries of the given shards in one XREADGROUP (up to `count` per shard); waits up to blockMs when there are
 * none (0 = do not wait). Redis Cluster refuses streams of several slots in one command: there, call it per shard.
 */
export async function readNew(redis: OutboxRedis, shards: number[], consumer: string, count: number, blockMs: number): Promise<Entry[]> {
  const streams = [...shards.map((s) => redis.layout.outbox(s)), ...shards.map(() => '>')];
  const reply = blockMs > 0
    ? await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...streams)
    : await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', ...streams);
  return entriesOf(redis, shards, reply);
}

/** true when one command may name the streams of several shards (not Redis Cluster: they are in different slots). */
export function multiShardCommands(redis: RedisClient): boolean {
  return !isCluster(redis);
}

/**
 * Take over the shard's entries pending for longer than minIdleMs with another (dead or stuck) consumer. Scans the
 * pending list from `cursor`; returns the claimed entries and the cursor of the next scan ('0-0' = scan complete).
 */
export async function claimStale(redis: OutboxRedis, shard: number, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<{ entries: Entry[]; next: string }> {
  const [next, claimed] = (await redis.xautoclaim(redis.layout.outbox(shard), GROUP, consumer, minIdleMs, cursor, 'COUNT', count)) as [string, RawEntry[], string[]];
  return { entries: claimed.map((r) => toEntry(shard, r)), next };
}

export async function ack(redis: OutboxRedis, shard: number, ids: string[], now = Date.now()): Promise<number> {
  if (ids.length === 0) return 0;
  const k = redis.layout;
  return redis.outboxAck(k.outbox(shard), k.outboxAcked(shard), GROUP, now, ...ids);
}

export async function deadLetter(redis: OutboxRedis, e: Entry, reason: string, consumer: string, now = Date.now()): Promise<boolean> {
  const k = redis.layout;
  return (await redis.outboxDead(k.outbox(e.shard), k.outboxDead(e.shard), k.outboxAcked(e.shard), GROUP, now, e.id, e.raw ?? '', reason, consumer)) === 1;
}

/** Delete the shard's entries acknowledged at or before cutoffMs, in chunks; returns how many were deleted. */
export async function trimAcked(redis: OutboxRedis, shard: number, cutoffMs: number, chunk = 500): Promise<number> {
  const k = redis.layout;
  let total = 0;
  for (;;) {
    const n = await redis.outboxTrim(k.outbox(shard), k.outboxAcked(shard), cutoffMs, chunk);
    total += n;
    if (n < chunk) return total;
  }
}

/** Milliseconds part of a stream id = when Redis appended the entry. */
export function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

interface ShardStats {
  shard: number;
  pending: number; // delivered to a consumer, not acknowledged
  undelivered: number; // not yet delivered to any consumer
  backlog: number; // pending + undelivered: events whose CDR/ledger rows may not be in PostgreSQL yet
  oldestId: string | null;
  deadLetters: number;
}

export interface OutboxStats extends Omit<ShardStats, 'shard'> {
  /** the oldest waiting event over all shards, as "<shard>:<stream id>" */
  oldestId: string | null;
  oldestAt: number | null; // epoch ms it was appended
  shards: ShardStats[];
}

function field(info: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === name) return info[i + 1];
  return undefined;
}

const STATS_SCAN_LIMIT = 100_000;

async function shardStats(redis: OutboxRedis, shard: number): Promise<ShardStats> {
  await ensureGroup(redis, shard);
  const key = redis.layout.outbox(shard);
  const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
  const g = groups.find((x) => field(x, 'name') === GROUP)!;
  const pending = Number(field(g, 'pending'));
  const lastDelivered = String(field(g, 'last-delivered-id'));
  const lag = field(g, 'lag');
  let undelivered: number;
  if (typeof lag === 'number') undelivered = lag;
  // Redis cannot tell the lag after some deletions: count, but never more than STATS_SCAN_LIMIT entries
  else undelivered = (await redis.xrange(key, `(${lastDelivered}`, '+', 'COUNT', STATS_SCAN_LIMIT)).length;
  const candidates: string[] = [];
  if (pending > 0) {
    const summary = (await redis.xpending(key, GROUP)) as [number, string | null, string | null, unknown];
    if (summary[1]) candidates.push(summary[1]);
  }
  if (undelivered > 0) {
    const first = await redis.xrange(key, `(${lastDelivered}`, '+', 'COUNT', 1);
    if (first[0]) candidates.push(first[0][0]);
  }
  candidates.sort((a, b) => idTime(a) - idTime(b));
  return { shard, pending, undelivered, backlog: pending + undelivered, oldestId: candidates[0] ?? null, deadLetters: await redis.xlen(redis.layout.outboxDead(shard)) };
}

/** Backlog over every shard (and per shard). */
export async function outboxStats(redis: OutboxRedis): Promise<OutboxStats> {
  const shards = await Promise.all(redis.layout.all().map((s) => shardStats(redis, s)));
  let oldest: ShardStats | null = null;
  for (const s of shards) if (s.oldestId && (!oldest || idTime(s.oldestId) < idTime(oldest.oldestId!))) oldest = s;
  const sum = (f: (s: ShardStats) => number) => shards.reduce((a, s) => a + f(s), 0);
  return {
    pending: sum((s) => s.pending),
    undelivered: sum((s) => s.undelivered),
    backlog: sum((s) => s.backlog),
    deadLetters: sum((s) => s.deadLetters),
    oldestId: oldest ? `${oldest.shard}:${oldest.oldestId}` : null,
    oldestAt: oldest ? idTime(oldest.oldestId!) : null,
    shards,
  };
}

export interface DeadLetter {
  id: string; // "<shard>:<id in the shard's dead-letter stream>", what `outbox dead replay` takes
  streamId: string; // id it had in the shard's outbox
  reason: string;
  consumer: string;
  at: number; // epoch ms it was dead-lettered
  event: string; // raw event text
}

/** "<shard>:<stream id>": a dead letter's id as operators see it; parseDeadId reads it back. */
export const formatDeadId = (shard: number, id: string): string => `${shard}:${id}`;

function deadLetterOf(shard: number, id: string, f: string[]): DeadLetter {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < f.length; i += 2) m.set(f[i]!, f[i + 1]!);
  return { id: formatDeadId(shard, id), streamId: m.get('streamId') ?? '', reason: m.get('reason') ?? '', consumer: m.get('consumer') ?? '', at: Number(m.get('at') ?? 0), event: m.get('event') ?? '' };
}

/** Dead letters of every shard, oldest first (at most `count`). */
export async function listDead(redis: OutboxRedis, count = 100): Promise<DeadLetter[]> {
  const k = redis.layout;
  const perShard = await Promise.all(k.all().map(async (shard) => {
    const rows = await redis.xrange(k.outboxDead(shard), '-', '+', 'COUNT', count);
    return rows.map(([id, f]) => deadLetterOf(shard, id, f));
  }));
  return perShard.flat().sort((a, b) => idTime(a.id.slice(a.id.indexOf(':') + 1)) - idTime(b.id.slice(b.id.indexOf(':') + 1))).slice(0, count);
}

/** "<shard>:<stream id>" as listDead gives it; RangeError on any other form or a shard this layout does not have. */
export function parseDeadId(redis: OutboxRedis, deadId: string): { shard: number; id: string } {
  const m = /^([0-9]{1,4}):([0-9]{1,20}-[0-9]{1,20})$/.exec(deadId);
  const shard = m ? Number(m[1]) : NaN;
  if (!m || shard >= redis.layout.shards) {
    throw new RangeError(`dead-letter id must be <shard>:<stream id> with shard < ${redis.layout.shards} (as \`softswitch outbox dead list\` prints it), got ${JSON.stringify(deadId)}`);
  }
  return { shard, id: m[2]! };
}

/** One dead letter by its "<shard>:<id>", or null when there is none. */
export async function readDead(redis: OutboxRedis, deadId: string): Promise<DeadLetter | null> {
  const { shard, id } = parseDeadId(redis, deadId);
  const rows = await redis.xrange(redis.layout.outboxDead(shard), id, id);
  return rows[0] ? deadLetterOf(shard, id, rows[0][1]) : null;
}

/** The raw bytes of a dead letter's event (poison may not be valid UTF-8), or null when there is no such letter. */
export async function readDeadEventBytes(redis: OutboxRedis, deadId: string): Promise<Buffer | null> {
  const { shard, id } = parseDeadId(redis, deadId);
  const rows = await redis.xrangeBuffer(redis.layout.outboxDead(shard), id, id);
  const f = rows[0]?.[1];
  if (!f) return null;
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i]!.toString() === 'event') return f[i + 1]!;
  return Buffer.alloc(0);
}

/**
 * Delete one dead letter from its shard's dead-letter stream; true when it was there. Stream ids are never reused,
 * so this deletes exactly the letter read under that id (callers archive it first: src/services/outbox.ts).
 */
export async function deleteDead(redis: OutboxRedis, deadId: string): Promise<boolean> {
  const { shard, id } = parseDeadId(redis, deadId);
  return (await redis.xdel(redis.layout.outboxDead(shard), id)) === 1;
}

/**
 * Dead letters of every shard per tenant they name (`unknown`: letters whose tenant cannot be told). Their money is
 * in Redis but not in the ledger, so a repair of such a tenant from the ledger would be wrong; reconcile --repair
 * refuses it.
 */
export async function deadLetterTenants(redis: OutboxRedis, page = 1000): Promise<{ byTenant: Map<string, number>; unknown: number }> {
  const byTenant = new Map<string, number>();
  let unknown = 0;
  for (const shard of redis.layout.all()) {
    let start = '-';
    for (;;) {
      const rows = await redis.xrange(redis.layout.outboxDead(shard), start, '+', 'COUNT', page);
      for (const [, f] of rows) {
        const i = f.indexOf('event');
        const raw = i >= 0 && i % 2 === 0 ? f[i + 1] ?? '' : '';
        const d = deadEventTenants(raw);
        if (d.unknown) unknown++;
        for (const t of d.tenants) byTenant.set(t, (byTenant.get(t) ?? 0) + 1);
      }
      if (rows.length < page) break;
      start = `(${rows[rows.length - 1]![0]}`;
    }
  }
  return { byTenant, unknown };
}

/**
 * Move a dead letter ("<shard>:<id>" as listDead gives it) back into its shard's outbox; returns its new outbox id,
 * or null when there is no such dead letter. Throws RangeError on an id of another form.
 */
export async function replayDead(redis: OutboxRedis, deadId: string): Promise<string | null> {
  const { shard, id } = parseDeadId(redis, deadId);
  const k = redis.layout;
  return redis.outboxReplay(k.outboxDead(shard), k.outbox(shard), id);
}
