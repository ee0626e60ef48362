/**
 * SQL of the outbox's PostgreSQL side: the processed_events guard rows that make the consumer exactly-once, and the
 * archive of discarded dead letters (outbox_dead_archive).
 */
import type { PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';

/**
 * Insert the guard rows of a batch in the order given (each event id with the stream id it came from); returns the
 * event ids that were new now (the others were written before).
 */
export async function insertGuards(c: PoolClient, events: { eventId: string; streamId: string }[]): Promise<Set<string>> {
  const guard = await c.query<{ event_id: string }>(
    `insert into processed_events (event_id, stream_id)
     select e, s from unnest($1::text[], $2::text[]) with ordinality as u(e, s, n) order by n
     on conflict (event_id) do nothing returning event_id`,
    [events.map((e) => e.eventId), events.map((e) => e.streamId)],
  );
  return new Set(guard.rows.map((r) => r.event_id));
}

/** Which of these event ids were written (reconcile's snapshot; the caller's transaction). */
export async function processedEvents(c: PoolClient, eventIds: string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  return new Set((await c.query<{ event_id: string }>('select event_id from processed_events where event_id = any($1::text[])', [eventIds])).rows.map((r) => r.event_id));
}

export interface ArchivedLetter {
  id: bigint;
  shard: number;
  deadId: string;
  streamId: string;
  deadReason: string;
  consumer: string;
  deadAt: Date | null;
  event: Buffer;
  tenants: string[];
  reason: string;
  actorKind: string;
  actorId: string;
  discardedAt: Date;
  /** when it left the dead-letter stream; null: a discard that stopped before Redis (run it again to finish) */
  removedAt: Date | null;
}

/** Discarded dead letters, newest first. */
export async function listArchivedLetters(db: Queryable, limit: number): Promise<ArchivedLetter[]> {
  const r = await db.query<{
    id: bigint; shard: number; dead_id: string; stream_id: string; dead_reason: string; consumer: string; dead_at: Date | null; event: Buffer;
    tenants: string[]; reason: string; actor_kind: string; actor_id: string; discarded_at: Date; removed_at: Date | null;
  }>(
    `select id, shard, dead_id, stream_id, dead_reason, consumer, dead_at, event, tenant_ids::text[] as tenants, reason, actor_kind, actor_id,
            discarded_at, removed_at
       from outbox_dead_archive order by id desc limit $1`, [limit]);
  return r.rows.map((x) => ({
    id: x.id, shard: x.shard, deadId: x.dead_id, streamId: x.stream_id, deadReason: x.dead_reason, consumer: x.consumer, deadAt: x.dead_at,
    event: x.event, tenants: x.tenants, reason: x.reason, actorKind: x.actor_kind, actorId: x.actor_id, discardedAt: x.discarded_at, removedAt: x.removed_at,
  }));
}

/** Archive a dead letter before it leaves Redis; null when this letter (shard, dead id) is archived already. */
export async function archiveLetter(
  c: Queryable,
  a: { shard: number; deadId: string; streamId: string; deadReason: string; consumer: string; deadAt: Date | null; event: Buffer; tenants: string[]; reason: string; actorKind: string; actorId: string },
): Promise<bigint | null> {
  const ins = await c.query<{ id: bigint }>(
    `insert into outbox_dead_archive (shard, dead_id, stream_id, dead_reason, consumer, dead_at, event, tenant_ids, reason, actor_kind, actor_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8::int8[], $9, $10, $11)
     on conflict (shard, dead_id) do nothing returning id`,
    [a.shard, a.deadId, a.streamId, a.deadReason, a.consumer, a.deadAt, a.event, a.tenants, a.reason, a.actorKind, a.actorId],
  );
  return ins.rows[0]?.id ?? null;
}

/** The archive row of a dead letter (its id and raw event), or null. */
export async function archivedLetter(c: Queryable, shard: number, deadId: string): Promise<{ id: bigint; event: Buffer } | null> {
  return (await c.query<{ id: bigint; event: Buffer }>(`select id, event from outbox_dead_archive where shard = $1 and dead_id = $2`, [shard, deadId])).rows[0] ?? null;
}

/** Stamp the time the archived letter left the dead-letter stream (once). */
export async function markRemoved(db: Queryable, archiveId: bigint): Promise<void> {
  await db.query(`update outbox_dead_archive set removed_at = now() where id = $1 and removed_at is null`, [archiveId]);
}
