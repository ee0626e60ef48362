/**
 * The CDR/ledger outbox as operators handle it (CLI `softswitch outbox ...`, API /v1/outbox): status, dead letters,
 * replay, discard, the discarded letters. Redis is not transactional with PostgreSQL, so each write is ordered to lose nothing: a discard
 * commits the archive row (raw event, reasons, actor) and its audit row before the letter leaves Redis; a replay
 * moves the letter back in one Lua step and is audited right after.
 */
import { recordAudit } from '../audit/audit.js';
import { deadEventTenants } from '../outbox/event.js';
import {
  deleteDead, formatDeadId, listDead, outboxStats, parseDeadId, readDead, readDeadEventBytes, replayDead, withOutboxCommands,
  type DeadLetter, type OutboxRedis, type OutboxStats,
} from '../outbox/stream.js';
import type { Actor, ServiceDeps } from './context.js';
import { needRedis, requireStaff, requireWriter, tx } from './common.js';
import { ConflictError, InputError, NotFoundError } from './errors.js';

async function outboxRedis(deps: ServiceDeps, what: string): Promise<OutboxRedis> {
  const redis = await needRedis(deps, what);
  return withOutboxCommands(redis, redis.layout);
}

function checkedId(redis: OutboxRedis, deadId: string): string {
  try {
    parseDeadId(redis, deadId);
  } catch (e) {
    throw new InputError('deadId', (e as Error).message);
  }
  return deadId;
}

/** The single tenant a letter names, for the audit row's tenant (none or several: null). */
function tenantOf(d: DeadLetter): { tenants: string[]; tenantId: bigint | null } {
  const { tenants } = deadEventTenants(d.event);
  return { tenants, tenantId: tenants.length === 1 ? BigInt(tenants[0]!) : null };
}

export async function outboxStatus(deps: ServiceDeps, actor: Actor): Promise<OutboxStats> {
  requireStaff(actor, 'the outbox status');
  return outboxStats(await outboxRedis(deps, 'cannot read the outbox'));
}

export async function listDeadLetters(deps: ServiceDeps, actor: Actor, input: { limit?: number } = {}): Promise<DeadLetter[]> {
  requireStaff(actor, 'dead letters');
  return listDead(await outboxRedis(deps, 'cannot read the dead letters'), input.limit ?? 100);
}

export interface DiscardedLetter {
  archiveId: bigint;
  deadId: string;
  streamId: string;
  deadReason: string;
  consumer: string;
  deadAt: Date | null;
  /** the raw event as UTF-8 text (bytes that are not UTF-8 show as U+FFFD; the archive keeps them exact) */
  event: string;
  tenants: string[];
  reason: string;
  actorKind: string;
  actorId: string;
  discardedAt: Date;
  /** when it left the dead-letter stream; null: a discard that stopped before Redis (run it again to finish) */
  removedAt: Date | null;
}

/** Dead letters discarded so far (outbox_dead_archive), newest first: what was thrown away, why and by whom. */
export async function listDiscardedLetters(deps: ServiceDeps, actor: Actor, input: { limit?: number } = {}): Promise<DiscardedLetter[]> {
  requireStaff(actor, 'discarded dead letters');
  const r = await deps.pool.query<{
    id: bigint; shard: number; dead_id: string; stream_id: string; dead_reason: string; consumer: string; dead_at: Date | null; event: Buffer;
    tenants: string[]; reason: string; actor_kind: string; actor_id: string; discarded_at: Date; removed_at: Date | null;
  }>(
    `select id, shard, dead_id, stream_id, dead_reason, consumer, dead_at, event, tenant_ids::text[] as tenants, reason, actor_kind, actor_id,
            discarded_at, removed_at
       from outbox_dead_archive order by id desc limit $1`, [input.limit ?? 100]);
  return r.rows.map((x) => ({
    archiveId: x.id, deadId: formatDeadId(x.shard, x.dead_id), streamId: x.stream_id, deadReason: x.dead_reason, consumer: x.consumer, deadAt: x.dead_at,
    event: x.event.toString('utf8'), tenants: x.tenants, reason: x.reason, actorKind: x.actor_kind, actorId: x.actor_id, discardedAt: x.discarded_at, removedAt: x.removed_at,
  }));
}

/** Put a dead letter back into its shard's outbox (after its cause was fixed); audited `outbox.dead.replay`. */
export async function replayDeadLetter(deps: ServiceDeps, actor: Actor, input: { deadId: string }): Promise<{ deadId: string; outboxId: string }> {
  requireWriter(actor, 'replaying a dead letter');
  const redis = await outboxRedis(deps, 'cannot replay; nothing changed');
  const deadId = checkedId(redis, input.deadId);
  const letter = await readDead(redis, deadId);
  const outboxId = letter ? await replayDead(redis, deadId) : null;
  if (!letter || outboxId === null) throw new NotFoundError(`no dead letter ${deadId} (see softswitch outbox dead list)`);
  const { tenants, tenantId } = tenantOf(letter);
  await tx(deps, (c) => recordAudit(c, {
    actor, action: 'outbox.dead.replay', targetType: 'dead_letter', targetId: deadId, tenantId,
    before: { streamId: letter.streamId, reason: letter.reason, consumer: letter.consumer, at: new Date(letter.at) },
    after: { outboxId }, detail: { tenants },
  }));
  return { deadId, outboxId };
}

export interface DiscardResult {
  deadId: string;
  archiveId: bigint;
  tenants: string[];
}

/**
 * Remove a dead letter for good, losing nothing: (1) archive it in outbox_dead_archive with the raw event, its
 * dead-letter reason, the discard reason and the actor, audited `outbox.dead.discard`, committed; (2) delete it from
 * the dead-letter stream; (3) stamp removed_at. A crash between (1) and (2) leaves the letter in Redis and its
 * archive row: running the discard again finishes it (no second archive or audit row). A letter replayed or
 * discarded by someone else between (1) and (2) is reported as a conflict; its archive row keeps removed_at null.
 */
export async function discardDeadLetter(deps: ServiceDeps, actor: Actor, input: { deadId: string; reason: string }): Promise<DiscardResult> {
  requireWriter(actor, 'discarding a dead letter');
  const reason = input.reason?.trim() ?? '';
  if (reason.length === 0 || reason.length > 500) throw new InputError('reason', 'say why the letter is discarded (1-500 characters)');
  const redis = await outboxRedis(deps, 'cannot discard; nothing changed');
  const deadId = checkedId(redis, input.deadId);
  const { shard, id } = parseDeadId(redis, deadId);
  const letter = await readDead(redis, deadId);
  const bytes = letter ? await readDeadEventBytes(redis, deadId) : null;
  if (!letter || !bytes) throw new NotFoundError(`no dead letter ${deadId} (see softswitch outbox dead list)`);
  const { tenants, tenantId } = tenantOf(letter);
  const archiveId = await tx(deps, async (c) => {
    const ins = await c.query<{ id: bigint }>(
      `insert into outbox_dead_archive (shard, dead_id, stream_id, dead_reason, consumer, dead_at, event, tenant_ids, reason, actor_kind, actor_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8::int8[], $9, $10, $11)
       on conflict (shard, dead_id) do nothing returning id`,
      [shard, id, letter.streamId, letter.reason, letter.consumer, letter.at > 0 ? new Date(letter.at) : null, bytes, tenants, reason, actor.kind, actor.id],
    );
    if (ins.rows[0]) {
      await recordAudit(c, {
        actor, action: 'outbox.dead.discard', targetType: 'dead_letter', targetId: deadId, tenantId,
        before: { streamId: letter.streamId, reason: letter.reason, consumer: letter.consumer, at: new Date(letter.at) },
        detail: { reason, archiveId: ins.rows[0].id, tenants },
      });
      return ins.rows[0].id;
    }
    // an earlier discard of this letter archived it and stopped before Redis: finish that one
    const prior = await c.query<{ id: bigint; event: Buffer }>(`select id, event from outbox_dead_archive where shard = $1 and dead_id = $2`, [shard, id]);
    if (!prior.rows[0]!.event.equals(bytes)) throw new ConflictError(`dead letter ${deadId} differs from archive row ${prior.rows[0]!.id}; nothing changed`);
    return prior.rows[0]!.id;
  });
  if (!(await deleteDead(redis, deadId))) {
    throw new ConflictError(`dead letter ${deadId} left the dead-letter stream meanwhile (replayed or discarded concurrently); archive row ${archiveId} kept`);
  }
  await deps.pool.query(`update outbox_dead_archive set removed_at = now() where id = $1 and removed_at is null`, [archiveId]);
  return { deadId, archiveId, tenants };
}
