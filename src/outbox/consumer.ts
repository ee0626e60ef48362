/**
 * Outbox consumer: moves settled-call and bucket-expiry events from the Redis stream `outbox` into PostgreSQL,
 * exactly once (contract 3).
 *
 * Per event: parse (poison → outbox:dead with the reason, acked, counted), write CDR + ledger transfers + the
 * processed_events guard in one PostgreSQL transaction, commit, then XACK. A crash between commit and XACK leaves the
 * entry pending; whoever processes it again finds the guard row and only acknowledges it. PostgreSQL down → the
 * batch stops at the first failure, nothing is acked, the loop backs off and retries the same entries (read back
 * from this consumer's pending list) until it returns. Entries of a dead consumer are claimed (XAUTOCLAIM) once idle
 * for claimIdleMs. Acked entries are deleted after ackRetentionMs (reconciliation reads recently acked ones).
 */
import type { Redis } from 'ioredis';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import { metrics, timed } from '../observability/metrics.js';
import { parseOutboxEvent } from './event.js';
import { writeEvent } from './cdr-writer.js';
import { classifyFailure, describe } from './errors.js';
import {
  ack, claimStale, deadLetter, ensureGroup, idTime, outboxStats, readNew, readOwnPending, trimAcked, withOutboxCommands,
  type Entry, type OutboxRedis, type OutboxStats,
} from './stream.js';

export interface OutboxConsumerOptions {
  batchSize?: number; // entries read per XREADGROUP / XAUTOCLAIM
  blockMs?: number; // how long the loop waits for new entries
  claimIdleMs?: number; // pending this long with another consumer = that consumer is dead; take the entries over
  ackRetentionMs?: number; // acked entries are deleted from the stream this long after their ack
  maxBackoffMs?: number; // longest wait between retries while PostgreSQL or Redis is down
  housekeepingMs?: number; // how often metrics are refreshed and acked entries trimmed
}

export const OUTBOX_DEFAULTS: Required<OutboxConsumerOptions> = {
  batchSize: 100,
  blockMs: 1000,
  claimIdleMs: 30_000,
  ackRetentionMs: 10 * 60_000,
  maxBackoffMs: 5000,
  housekeepingMs: 5000,
};

export interface OutboxConsumer {
  /** Run the consume loop in the background until stop(). */
  start(): void;
  /** Stop the loop (waits for the event in progress) and close the consumer's Redis connection. */
  stop(): Promise<void>;
  /**
   * One round: own pending entries, stale entries of dead consumers, then new entries (without waiting).
   * Returns the number of entries handled (written, duplicate or dead-lettered). Throws on a transient failure
   * (store down) with the failed entry and the rest of its batch left pending. Not to be called while start() runs.
   */
  drainOnce(): Promise<number>;
  /** true while the loop runs and is not wedged (it has gone round within the last few seconds). */
  alive(): boolean;
  /** Backlog figures (also published as metrics). */
  stats(): Promise<OutboxStats>;
}

class TransientFailure extends Error {
  constructor(readonly entryId: string, override readonly cause: unknown) {
    super(`outbox entry ${entryId}: ${describe(cause)}`);
    this.name = 'TransientFailure';
  }
}

export function createOutboxConsumer(deps: {
  redis: Redis;
  pool: Pool;
  logger: Logger;
  instanceId: string;
  options?: OutboxConsumerOptions;
}): OutboxConsumer {
  const opt = { ...OUTBOX_DEFAULTS, ...deps.options };
  const consumer = deps.instanceId;
  const log = deps.logger.child({ component: 'outbox', consumer });
  // own connection: XREADGROUP BLOCK must not hold up the charging commands on the shared one
  const conn: OutboxRedis = withOutboxCommands(deps.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: 1 }));
  conn.on('error', () => undefined); // failures surface through the commands and the backoff log

  let groupReady = false;
  let claimCursor = '0-0';
  let running = false;
  let loop: Promise<void> | undefined;
  let lastBeat = 0;
  let wake: (() => void) | undefined;
  let lastHousekeeping = 0;

  async function handleEntry(e: Entry): Promise<void> {
    const parsed = parseOutboxEvent(e.raw);
    if (!parsed.ok) {
      if (await timed('redis', 'outbox_dead_letter', () => deadLetter(conn, e, parsed.reason, consumer))) {
        metrics.outboxProcessedTotal.inc({ outcome: 'dead' });
        log.error({ streamId: e.id, reason: parsed.reason }, 'poison outbox event moved to outbox:dead');
      }
      return;
    }
    const ev = parsed.event;
    const elog = log.child(ev.type === 'bucket.expired' ? { eventId: ev.eventId, tenant: ev.tenantId } : { callId: ev.cdr.callId, tenant: ev.cdr.tenantId });
    let outcome;
    try {
      outcome = await writeEvent(deps.pool, ev, e.id, elog);
    } catch (err) {
      if (classifyFailure(err) === 'transient') throw new TransientFailure(e.id, err);
      const reason = `rejected by PostgreSQL: ${describe(err)}`;
      if (await timed('redis', 'outbox_dead_letter', () => deadLetter(conn, e, reason, consumer))) {
        metrics.outboxProcessedTotal.inc({ outcome: 'dead' });
        elog.error({ streamId: e.id, reason }, 'outbox event cannot be written; moved to outbox:dead');
      }
      return;
    }
    // committed: from here a crash only leaves the entry pending, and replaying it is a no-op
    await timed('redis', 'outbox_ack', () => ack(conn, [e.id]));
    metrics.outboxProcessedTotal.inc({ outcome });
    if (outcome === 'duplicate') elog.info({ streamId: e.id }, 'outbox event was already written; acknowledged');
  }

  async function handle(entries: Entry[]): Promise<number> {
    for (const e of entries) await handleEntry(e);
    return entries.length;
  }

  async function round(blockMs: number): Promise<number> {
    try {
      return await roundOnce(blockMs);
    } catch (e) {
      // Redis restarted without its data: the group is gone; make it again on the next round
      if (/NOGROUP/.test(String((e as Error)?.message))) {
        groupReady = false;
        claimCursor = '0-0';
      }
      throw e;
    }
  }

  async function roundOnce(blockMs: number): Promise<number> {
    if (!groupReady) {
      await timed('redis', 'outbox_group', () => ensureGroup(conn));
      groupReady = true;
    }
    let n = await handle(await timed('redis', 'outbox_read_pending', () => readOwnPending(conn, consumer, opt.batchSize)));
    const claimed = await timed('redis', 'outbox_claim', () => claimStale(conn, consumer, opt.claimIdleMs, claimCursor, opt.batchSize));
    claimCursor = claimed.next;
    if (claimed.entries.length > 0) log.warn({ count: claimed.entries.length }, 'claimed outbox entries of a dead consumer');
    n += await handle(claimed.entries);
    // its duration includes the XREADGROUP BLOCK wait (up to blockMs) when the stream is idle
    n += await handle(await timed('redis', 'outbox_read_new', () => readNew(conn, consumer, opt.batchSize, n === 0 ? blockMs : 0)));
    return n;
  }

  async function stats(): Promise<OutboxStats> {
    const s = await timed('redis', 'outbox_stats', () => outboxStats(conn));
    metrics.outboxBacklog.set(s.backlog);
    metrics.outboxOldestAge.set(s.oldestId ? Math.max(0, (Date.now() - idTime(s.oldestId)) / 1000) : 0);
    return s;
  }

  async function housekeeping(): Promise<void> {
    const now = Date.now();
    if (now - lastHousekeeping < opt.housekeepingMs) return;
    lastHousekeeping = now;
    await stats();
    const trimmed = await timed('redis', 'outbox_trim', () => trimAcked(conn, now - opt.ackRetentionMs));
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
        await round(opt.blockMs);
        await housekeeping();
        if (failures > 0) log.info({ failures }, 'outbox consumer recovered');
        backoff = 0;
        failures = 0;
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
