/**
 * The Redis side of the outbox consumer: reading the stream `outbox` in consumer group `ledger-writer`
 * (own pending entries, stale entries of dead consumers, new entries), acknowledging, dead-lettering, trimming and
 * measuring the backlog. Key names are relative to the connection's keyPrefix (contract 3).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { keys } from '../charging/keys.js';
import { projectPath } from '../util/paths.js';
import { deadEventTenants } from './event.js';

export const OUTBOX = keys.outbox;
export const DEAD = 'outbox:dead';
export const ACKED = 'outbox:acked';
export const GROUP = 'ledger-writer';

export interface Entry {
  id: string; // stream id
  raw: string | null; // field `event`, null when missing
}

interface OutboxCommands {
  outboxAck(outbox: string, acked: string, ...argv: (string | number)[]): Promise<number>;
  outboxDead(outbox: string, dead: string, acked: string, ...argv: (string | number)[]): Promise<number>;
  outboxTrim(outbox: string, acked: string, ...argv: (string | number)[]): Promise<number>;
  outboxReplay(dead: string, outbox: string, deadId: string): Promise<string | null>;
}
export type OutboxRedis = Redis & OutboxCommands;

const SCRIPTS: readonly [string, keyof OutboxCommands, number][] = [
  ['ack.lua', 'outboxAck', 2],
  ['dead.lua', 'outboxDead', 3],
  ['trim.lua', 'outboxTrim', 2],
  ['replay.lua', 'outboxReplay', 2],
];

/** Define the outbox scripts on a connection (idempotent per connection). */
export function withOutboxCommands(redis: Redis): OutboxRedis {
  const r = redis as OutboxRedis;
  if (typeof r.outboxAck === 'function') return r;
  for (const [file, name, numberOfKeys] of SCRIPTS) {
    redis.defineCommand(name, { numberOfKeys, lua: readFileSync(projectPath('src', 'outbox', 'lua', file), 'utf8') });
  }
  return r;
}

/** Create the consumer group (from the start of the stream, so events written before any consumer ran count). */
export async function ensureGroup(redis: Redis): Promise<void> {
  try {
    await redis.xgroup('CREATE', OUTBOX, GROUP, '0', 'MKSTREAM');
  } catch (e) {
    if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
  }
}

type RawEntry = [string, string[] | null];

function toEntry([id, fields]: RawEntry): Entry {
  let raw: string | null = null;
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === 'event') raw = fields[i + 1]!;
  return { id, raw };
}

function entriesOf(reply: unknown): Entry[] {
  const streams = reply as [string, RawEntry[]][] | null;
  if (!streams || streams.length === 0) return [];
  // an entry deleted while pending comes back with no fields; it cannot be processed and is skipped by callers
  return streams[0]![1].map(toEntry);
}

/** Entries delivered to this consumer and not acknowledged (after a failure or a restart under the same name). */
export async function readOwnPending(redis: Redis, consumer: string, count: number): Promise<Entry[]> {
  return entriesOf(await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', OUTBOX, '0'));
}

/** New entries; waits up to blockMs when there are none (0 = do not wait). */
export async function readNew(redis: Redis, consumer: string, count: number, blockMs: number): Promise<Entry[]> {
  const reply = blockMs > 0
    ? await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', OUTBOX, '>')
    : await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', OUTBOX, '>');
  return entriesOf(reply);
}

/**
 * Take over entries pending for longer than minIdleMs with another (dead or stuck) consumer. Scans the pending
 * list from `cursor`; returns the claimed entries and the cursor of the next scan ('0-0' = scan complete).
 */
export async function claimStale(redis: Redis, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<{ entries: Entry[]; next: string }> {
  const [next, claimed] = (await redis.xautoclaim(OUTBOX, GROUP, consumer, minIdleMs, cursor, 'COUNT', count)) as [string, RawEntry[], string[]];
  return { entries: claimed.map(toEntry), next };
}

export async function ack(redis: OutboxRedis, ids: string[], now = Date.now()): Promise<number> {
  if (ids.length === 0) return 0;
  return redis.outboxAck(OUTBOX, ACKED, GROUP, now, ...ids);
}

export async function deadLetter(redis: OutboxRedis, e: Entry, reason: string, consumer: string, now = Date.now()): Promise<boolean> {
  return (await redis.outboxDead(OUTBOX, DEAD, ACKED, GROUP, now, e.id, e.raw ?? '', reason, consumer)) === 1;
}

/** Delete entries acknowledged at or before cutoffMs, in chunks; returns how many were deleted. */
export async function trimAcked(redis: OutboxRedis, cutoffMs: number, chunk = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await redis.outboxTrim(OUTBOX, ACKED, cutoffMs, chunk);
    total += n;
    if (n < chunk) return total;
  }
}

/** Milliseconds part of a stream id = when Redis appended the entry. */
export function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

export interface OutboxStats {
  pending: number; // delivered to a consumer, not acknowledged
  undelivered: number; // not yet delivered to any consumer
  backlog: number; // pending + undelivered: events whose CDR/ledger rows may not be in PostgreSQL yet
  oldestId: string | null;
  deadLetters: number;
}

function field(info: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === name) return info[i + 1];
  return undefined;
}

const STATS_SCAN_LIMIT = 100_000;

export async function outboxStats(redis: Redis): Promise<OutboxStats> {
  await ensureGroup(redis);
  const groups = (await redis.xinfo('GROUPS', OUTBOX)) as unknown[][];
  const g = groups.find((x) => field(x, 'name') === GROUP)!;
  const pending = Number(field(g, 'pending'));
  const lastDelivered = String(field(g, 'last-delivered-id'));
  const lag = field(g, 'lag');
  let undelivered: number;
  if (typeof lag === 'number') undelivered = lag;
  // Redis cannot tell the lag after some deletions: count, but never more than STATS_SCAN_LIMIT entries
  else undelivered = (await redis.xrange(OUTBOX, `(${lastDelivered}`, '+', 'COUNT', STATS_SCAN_LIMIT)).length;
  const candidates: string[] = [];
  if (pending > 0) {
    const summary = (await redis.xpending(OUTBOX, GROUP)) as [number, string | null, string | null, unknown];
    if (summary[1]) candidates.push(summary[1]);
  }
  if (undelivered > 0) {
    const first = await redis.xrange(OUTBOX, `(${lastDelivered}`, '+', 'COUNT', 1);
    if (first[0]) candidates.push(first[0][0]);
  }
  candidates.sort((a, b) => idTime(a) - idTime(b));
  return { pending, undelivered, backlog: pending + undelivered, oldestId: candidates[0] ?? null, deadLetters: await redis.xlen(DEAD) };
}

export interface DeadLetter {
  id: string; // id in outbox:dead
  streamId: string; // id it had in outbox
  reason: string;
  consumer: string;
  at: number; // epoch ms it was dead-lettered
  event: string; // raw event text
}

/** Dead letters, oldest first. */
export async function listDead(redis: Redis, count = 100): Promise<DeadLetter[]> {
  const rows = await redis.xrange(DEAD, '-', '+', 'COUNT', count);
  return rows.map(([id, f]) => {
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < f.length; i += 2) m.set(f[i]!, f[i + 1]!);
    return { id, streamId: m.get('streamId') ?? '', reason: m.get('reason') ?? '', consumer: m.get('consumer') ?? '', at: Number(m.get('at') ?? 0), event: m.get('event') ?? '' };
  });
}

/**
 * Dead letters per tenant they name (`unknown`: letters whose tenant cannot be told). Their money is in Redis but not
 * in the ledger, so a repair of such a tenant from the ledger would be wrong; reconcile --repair refuses it.
 */
export async function deadLetterTenants(redis: Redis, page = 1000): Promise<{ byTenant: Map<string, number>; unknown: number }> {
  const byTenant = new Map<string, number>();
  let unknown = 0;
  let start = '-';
  for (;;) {
    const rows = await redis.xrange(DEAD, start, '+', 'COUNT', page);
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
  return { byTenant, unknown };
}

/** Move a dead letter back into the outbox; returns its new outbox id, or null when there is no such dead letter. */
export async function replayDead(redis: OutboxRedis, deadId: string): Promise<string | null> {
  return redis.outboxReplay(DEAD, OUTBOX, deadId);
}
