/**
 * Outbox consumer: moves settled-call and bucket-expiry events from the Redis outbox streams (one per key shard,
 * keys.ts) into PostgreSQL, exactly once, in batches.
 *
 * Per round: this consumer's own pending entries (after a failure), entries of dead consumers (XAUTOCLAIM after
 * claimIdleMs), then new entries, of every shard. Poison events go to their shard's dead-letter stream with the
 * reason (acked, counted). The others are written up to batchSize per PostgreSQL transaction (guard rows, CDRs and
 * ledger transfers together, cdr-writer.ts), committed, then acknowledged per shard. A crash between commit and XACK
 * leaves entries pending; whoever processes them again finds the guard rows and only acknowledges. A batch that
 * PostgreSQL refuses for its content is written again one event per transaction, so the one bad event is
 * dead-lettered and the others are written. PostgreSQL down → nothing is acked, the loop backs off and retries the
 * same entries (read back from this consumer's pending lists) until it returns. Acked entries are deleted after
 * ackRetentionMs (reconciliation reads recently acked ones).
 *
 * Redis Cluster cannot name streams of several slots in one XREADGROUP: there each shard is read by its own
 * command and an idle consumer polls every pollMs; elsewhere one blocking XREADGROUP covers every shard.
 */
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import { metrics, timed } from '../observability/metrics.js';
import { duplicateConnection, type ChargingRedis } from '../charging/redis.js';
import { isBucketEvent, parseOutboxEvent, type OutboxEvent } from './event.js';
import { writeEvents, type WriteOutcome } from './cdr-writer.js';
import { classifyFailure, describe } from './errors.js';
import {
  ack, claimStale, deadLetter, ensureGroup, idTime, multiShardCommands, outboxStats, readNew, readOwnPending, trimAcked, withOutboxCommands,
  type Entry, type OutboxRedis, type OutboxStats,
} from './stream.js';

export interface OutboxConsumerOptions {
  batchSize?: number; // most entries per read (per shard) and most events per PostgreSQL transaction
  /** the one-event-per-transaction writer (each event its own transaction and XACK): the baseline of bench:outbox */
  perEventTransactions?: boolean;
  blockMs?: number; // how long the loop waits for new entries
  pollMs?: number; // Redis Cluster: how often an idle loop looks at every shard (it cannot block on all at once)
  claimIdleMs?: number; // pending this long with another consumer = that consumer is dead; take the entries over
  ackRetentionMs?: number; // acked entries are deleted from the stream this long after their ack
  maxBackoffMs?: number; // longest wait between retries while PostgreSQL or Redis is down
  housekeepingMs?: number; // how often metrics are refreshed and acked entries trimmed
}

const OUTBOX_DEFAULTS: Required<OutboxConsumerOptions> = {
  batchSize: 500,
  perEventTransactions: false,
  blockMs: 1000,
  pollMs: 100,
  claimIdleMs: 30_000,
  ackRetentionMs: 10 * 60_000,
  maxBackoffMs: 5000,
  housekeepingMs: 5000,
};

export interface OutboxConsumer {
  /** Run the consume loop in the background until stop(). */
  start(): void;
  /** Stop the loop (waits for the batch in progress) and close the consumer's Redis connection. */
  stop(): Promise<void>;
  /**
   * One round over every shard: own pending entries, stale entries of dead consumers, then new entries (without
   * waiting). Returns the number of entries handled (written, duplicate or dead-lettered). Throws on a transient
   * failure (store down) with the failed batch and the rest of the round left pending. Not to be called while
   * start() runs.
   */
  drainOnce(): Promise<number>;
  /** true while the loop runs and is not wedged (it has gone round within the last few seconds). */
  alive(): boolean;
  /** Backlog figures over every shard (also published as metrics). */
  stats(): Promise<OutboxStats>;
}

class TransientFailure extends Error {
  constructor(readonly entryId: string, override readonly cause: unknown) {
    super(`outbox entry ${entryId}: ${describe(cause)}`);
    this.name = 'TransientFailure';
  }
}

interface Parsed { entry: Entry; event: OutboxEvent }

export function createOutboxConsumer(deps: {
  redis: ChargingRedis;
  pool: Pool;
  logger: Logger;
  instanceId: string;
  options?: OutboxConsumerOptions;
}): OutboxConsumer {
  const opt = { ...OUTBOX_DEFAULTS, ...deps.options };
  const consumer = deps.instanceId;
  const log = deps.logger.child({ component: 'outbox', consumer });
  // own connection: XREADGROUP BLOCK must not hold up the charging commands on the shared one
  const conn: OutboxRedis = withOutboxCommands(duplicateConnection(deps.redis, { enableOfflineQueue: true, maxRetriesPerRequest: 1 }), deps.redis.layout);
  const shards = conn.layout.all();
  const together = multiShardCommands(conn);

  let groupsReady = false;
  const claimCursor = new Map<number, string>();
  // entries were delivered to us and not acked (a failed round, or a restart under the same name): read them back
  let ownPending = true;
  let running = false;
  let loop: Promise<void> | undefined;
  let lastBeat = 0;
  let wake: (() => void) | undefined;
  let lastHousekeeping = 0;

  async function deadLetterOne(e: Entry, reason: string, elog: Logger, message: string): Promise<void> {
    if (await timed('redis', 'outbox_dead_letter', () => deadLetter(conn, e, reason, consumer))) {
      metrics.outboxProcessedTotal.inc({ outcome: 'dead' });
      elog.error({ shard: e.shard, streamId: e.id, reason }, message);
    }
  }

  function eventLog(ev: OutboxEvent): Logger {
    return log.child(isBucketEvent(ev) ? { eventId: ev.eventId, tenant: ev.tenantId } : { callId: ev.cdr.callId, tenant: ev.cdr.tenantId });
  }

  /** Acknowledge written entries, one step per shard. */
  async function ackAll(done: { entry: Entry; outcome: WriteOutcome; event: OutboxEvent }[]): Promise<void> {
    const byShard = new Map<number, string[]>();
    for (const d of done) byShard.set(d.entry.shard, [...(byShard.get(d.entry.shard) ?? []), d.entry.id]);
    for (const [shard, ids] of byShard) await timed('redis', 'outbox_ack', () => ack(conn, shard, ids));
    for (const d of done) {
      metrics.outboxProcessedTotal.inc({ outcome: d.outcome });
      if (d.outcome === 'duplicate') eventLog(d.event).info({ shard: d.entry.shard, streamId: d.entry.id }, 'outbox event was already written; acknowledged');
    }
  }

  /** Write events one per transaction: the baseline, and how a refused batch finds its bad event. */
  async function writeOneByOne(items: Parsed[]): Promise<void> {
    for (const { entry, event } of items) {
      let outcome: WriteOutcome;
      try {
        [outcome] = (await writeEvents(deps.pool, [{ event, streamId: entry.id }], eventLog(event))) as [WriteOutcome];
      } catch (err) {
        if (classifyFailure(err) === 'transient') throw new TransientFailure(entry.id, err);
        await deadLetterOne(entry, `rejected by PostgreSQL: ${describe(err)}`, eventLog(event), 'outbox event cannot be written; moved to its dead-letter stream');
        continue;
      }
      // committed: from here a crash only leaves the entry pending, and replaying it is a no-op
      await ackAll([{ entry, outcome, event }]);
    }
  }

  async function handleBatch(entries: Entry[]): Promise<void> {
    const good: Parsed[] = [];
    for (const e of entries) {
      const parsed = parseOutboxEvent(e.raw);
      if (parsed.ok) good.push({ entry: e, event: parsed.event });
      else await deadLetterOne(e, parsed.reason, log, 'poison outbox event moved to its dead-letter stream');
    }
    if (good.length === 0) return;
    if (opt.perEventTransactions || good.length === 1) return writeOneByOne(good);
    let outcomes: WriteOutcome[];
    try {
      outcomes = await writeEvents(deps.pool, good.map((g) => ({ event: g.event, streamId: g.entry.id })), log);
    } catch (err) {
      if (classifyFailure(err) === 'transient') throw new TransientFailure(good[0]!.entry.id, err);
      // some event of the batch contradicts the database: write them one by one, so only that one is dead-lettered
      log.warn({ err: describe(err), events: good.length }, 'PostgreSQL refused an outbox batch; writing its events one by one');
      return writeOneByOne(good);
    }
    await ackAll(good.map((g, i) => ({ ...g, outcome: outcomes[i]! })));
  }

  async function handle(entries: Entry[]): Promise<number> {
    for (let i = 0; i < entries.length; i += opt.batchSize) await handleBatch(entries.slice(i, i + opt.batchSize));
    return entries.length;
  }

  async function round(blockMs: number): Promise<number> {
    try {
      return await roundOnce(blockMs);
    } catch (e) {
      ownPending = true; // what was delivered and not acked is read back next round
      // Redis restarted without its data (or a promoted replica lacks the group): make the groups again
      if (/NOGROUP/.test(String((e as Error)?.message))) {
        groupsReady = false;
        claimCursor.clear();
      }
      throw e;
    }
  }

  const perShard = <T>(f: (shard: number) => Promise<T>): Promise<T[]> => Promise.all(shards.map(f));

  async function roundOnce(blockMs: number): Promise<number> {
    if (!groupsReady) {
      await timed('redis', 'outbox_group', () => perShard((s) => ensureGroup(conn, s)));
      groupsReady = true;
    }
    let n = 0;
    if (ownPending) {
      const own = (await timed('redis', 'outbox_read_pending', () => perShard((s) => readOwnPending(conn, s, consumer, opt.batchSize)))).flat();
      n += await handle(own);
      // a full read may have left more behind: look again next round
      ownPending = own.length >= opt.batchSize;
    }
    const claimed = (await timed('redis', 'outbox_claim', () => perShard(async (s) => {
      const r = await claimStale(conn, s, consumer, opt.claimIdleMs, claimCursor.get(s) ?? '0-0', opt.batchSize);
      claimCursor.set(s, r.next);
      return r.entries;
    }))).flat();
    if (claimed.length > 0) log.warn({ count: claimed.length }, 'claimed outbox entries of a dead consumer');
    n += await handle(claimed);
    // its duration includes the XREADGROUP BLOCK wait (up to blockMs) when the streams are idle
    const fresh = await timed('redis', 'outbox_read_new', () => (together
      ? readNew(conn, shards, consumer, opt.batchSize, n === 0 ? blockMs : 0)
      : perShard((s) => readNew(conn, [s], consumer, opt.batchSize, 0)).then((x) => x.flat())));
    n += await handle(fresh);
    return n;
  }

  async function stats(): Promise<OutboxStats> {
    const s = await timed('redis', 'outbox_stats', () => outboxStats(conn));
    const now = Date.now();
    metrics.outboxBacklog.set(s.backlog);
    metrics.outboxOldestAge.set(s.oldestAt ? Math.max(0, (now - s.oldestAt) / 1000) : 0);
    for (const sh of s.shards) metrics.outboxShardLag.set({ shard: String(sh.shard) }, sh.oldestId ? Math.max(0, (now - idTime(sh.oldestId)) / 1000) : 0);
    return s;
  }

  async function housekeeping(): Promise<void> {
    const now = Date.now();
    if (now - lastHousekeeping < opt.housekeepingMs) return;
    lastHousekeeping = now;
    await stats();
    const trimmed = (await timed('redis', 'outbox_trim', () => perShard((s) => trimAcked(conn, s, now - opt.ackRetentionMs)))).reduce((a, b) => a + b, 0);
    if (trimmed > 0) log.debug({ trimmed }, 'deleted acknowledged outbox entries');
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async function run(): Promise<void> {
    let backoff = 0;
    let failures = 0;
    while (running) {
      lastBeat = Date.now();
      try {
        const n = await round(opt.blockMs);
        await housekeeping();
        if (failures > 0) log.info({ failures }, 'outbox consumer recovered');
        backoff = 0;
        failures = 0;
        if (n === 0 && !together && running) await sleep(Math.min(opt.pollMs, opt.blockMs));
      } catch (e) {
        failures++;
        metrics.outboxProcessedTotal.inc({ outcome: 'retry' });
        backoff = Math.min(opt.maxBackoffMs, backoff === 0 ? 100 : backoff * 2);
        // log the first failure and then about every 30 s, not every retry
        if (failures === 1 || failures % Math.max(1, Math.round(30_000 / opt.maxBackoffMs)) === 0) {
          log.warn({ err: describe(e), failures, retryInMs: backoff }, 'outbox consumer cannot make progress; nothing acknowledged, retrying');
        }
        lastBeat = Date.now();
        await sleep(backoff);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      loop = undefined;
      await conn.quit().catch(() => conn.disconnect());
    },
    drainOnce: () => round(0),
    alive: () => running && Date.now() - lastBeat < opt.blockMs + opt.maxBackoffMs + 30_000,
    stats,
  };
}
