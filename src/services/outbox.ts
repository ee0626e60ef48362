/**
 * The CDR/ledger outbox as operators handle it (CLI `softswitch outbox ...`, API /v1/outbox): status, dead letters,
 * replay, discard, the discarded letters. Redis is not transactional with PostgreSQL, so each write is ordered to lose nothing: a discard
 * commits the archive row (raw event, reasons, actor) and its audit row before the letter leaves Redis; a replay
 * moves the letter back in one Lua step and is audited right after.
 */
import { deadEventTenants } from '../outbox/event.js';
import {
  deleteDead, formatDeadId, listDead, outboxStats, parseDeadId, readDead, readDeadEventBytes, replayDead, withOutboxCommands,
  type DeadLetter, type OutboxRedis, type OutboxStats,
} from '../outbox/stream.js';
import { archivedLetter, archiveLetter, listArchivedLetters, markRemoved, type ArchivedLetter } from '../store/outbox.js';
import { recordAudit } from '../store/audit.js';
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

/** An archived letter as operators read it. */
interface DiscardedLetter extends Omit<ArchivedLetter, 'id' | 'shard' | 'event'> {
  archiveId: bigint;
  /** <shard>:<stream id>, as `outbox dead list` shows it */
  deadId: string;
  /** the raw event as UTF-8 text (bytes that are not UTF-8 show as U+FFFD; the archive keeps them exact) */
  event: string;
}

/** Dead letters discarded so far (outbox_dead_archive), newest first: what was thrown away, why and by whom. */
export async function listDiscardedLetters(deps: ServiceDeps, actor: Actor, input: { limit?: number } = {}): Promise<DiscardedLetter[]> {
  requireStaff(actor, 'discarded dead letters');
  return (await listArchivedLetters(deps.pool, input.limit ?? 100)).map((x) => ({
    archiveId: x.id, deadId: formatDeadId(x.shard, x.deadId), streamId: x.streamId, deadReason: x.deadReason, consumer: x.consumer, deadAt: x.deadAt,
    event: x.event.toString('utf8'), tenants: x.tenants, reason: x.reason, actorKind: x.actorKind, actorId: x.actorId, discardedAt: x.discardedAt, removedAt: x.removedAt,
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

interface DiscardResult {
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
    const archived = await archiveLetter(c, {
      shard, deadId: id, streamId: letter.streamId, deadReason: letter.reason, consumer: letter.consumer, deadAt: letter.at > 0 ? new Date(letter.at) : null,
      event: bytes, tenants, reason, actorKind: actor.kind, actorId: actor.id,
    });
    if (archived !== null) {
      await recordAudit(c, {
        actor, action: 'outbox.dead.discard', targetType: 'dead_letter', targetId: deadId, tenantId,
        before: { streamId: letter.streamId, reason: letter.reason, consumer: letter.consumer, at: new Date(letter.at) },
        detail: { reason, archiveId: archived, tenants },
      });
      return archived;
    }
    // an earlier discard of this letter archived it and stopped before Redis: finish that one
    const prior = (await archivedLetter(c, shard, id))!;
    if (!prior.event.equals(bytes)) throw new ConflictError(`dead letter ${deadId} differs from archive row ${prior.id}; nothing changed`);
    return prior.id;
  });
  if (!(await deleteDead(redis, deadId))) {
    throw new ConflictError(`dead letter ${deadId} left the dead-letter stream meanwhile (replayed or discarded concurrently); archive row ${archiveId} kept`);
  }
  await markRemoved(deps.pool, archiveId);
  return { deadId, archiveId, tenants };
}
