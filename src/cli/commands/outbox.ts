/**
 * `softswitch outbox status | dead list | dead replay <id> | dead discard <id> --reason TEXT | dead discarded`: the
 * CDR/ledger outbox as operators see it. Replay and discard are service operations (src/services/outbox.ts), audited.
 */
import { discardDeadLetter, listDeadLetters, listDiscardedLetters, outboxStatus, replayDeadLetter } from '../../services/outbox.js';
import { int, reqStr, type CommandSpec, type ParsedArgs } from '../framework.js';
import { iso, table } from './shared.js';

const LIMIT_OPTION = [{ name: 'limit', type: 'int' as const, doc: 'at most this many (default 100)' }];
const limitOf = (args: ParsedArgs) => ({ limit: int(args, 'limit', 100, 1, 100_000) });

export const outboxCommands: CommandSpec[] = [
  {
    path: ['outbox', 'status'],
    summary: 'Events waiting to be written to PostgreSQL (pending + undelivered), the age of the oldest, dead letters.',
    async run(ctx) {
      const s = await outboxStatus(ctx.services(), ctx.actor);
      const oldestAgeSeconds = s.oldestAt ? Math.max(0, (Date.now() - s.oldestAt) / 1000) : 0;
      const json = { ...s, oldestAgeSeconds };
      return {
        json,
        text: `outbox: ${s.backlog} waiting (${s.pending} pending, ${s.undelivered} undelivered), oldest ${oldestAgeSeconds.toFixed(1)} s; ${s.deadLetters} dead letter(s)`,
      };
    },
  },
  {
    path: ['outbox', 'dead', 'list'],
    summary: 'Dead-lettered events (poison, or refused by PostgreSQL) with the reason, oldest first.',
    options: LIMIT_OPTION,
    async run(ctx, args) {
      const dead = await listDeadLetters(ctx.services(), ctx.actor, limitOf(args));
      return { json: dead, text: dead.length ? table(['dead id', 'outbox id', 'at', 'reason'], dead.map((d) => [d.id, d.streamId, new Date(d.at).toISOString(), d.reason])) : 'no dead letters' };
    },
  },
  {
    path: ['outbox', 'dead', 'replay'],
    summary: 'Put a dead-lettered event back into the outbox once its cause is fixed (if it still fails it comes back\nwith a new reason). Replay before running reconcile --repair, which would otherwise refund it.',
    positionals: [{ name: 'deadId', doc: 'id shown by `outbox dead list` (<shard>:<stream id>)', required: true }],
    async run(ctx, args) {
      const r = await replayDeadLetter(ctx.services(), ctx.actor, { deadId: args.positionals[0]! });
      return { json: r, text: `dead letter ${r.deadId} is back in the outbox as ${r.outboxId}` };
    },
  },
  {
    path: ['outbox', 'dead', 'discard'],
    summary: 'Remove a dead letter that can never be written (e.g. one naming no tenant, which blocks every\n' +
      'reconcile --repair), losing nothing: the raw event, its dead-letter reason, your reason and who did it are\n' +
      'archived in PostgreSQL (table outbox_dead_archive) before it leaves Redis; audited. Its charge stays out of the\n' +
      'ledger: a later reconcile --repair sets Redis to the ledger for its tenant.',
    positionals: [{ name: 'deadId', doc: 'id shown by `outbox dead list` (<shard>:<stream id>)', required: true }],
    options: [{ name: 'reason', type: 'string', required: true, doc: 'why it is discarded (1-500 characters, kept in the archive and the audit log)' }],
    examples: ['softswitch outbox dead discard 3:1700000000000-0 --reason "test event without tenant, written by hand"'],
    async run(ctx, args) {
      const r = await discardDeadLetter(ctx.services(), ctx.actor, { deadId: args.positionals[0]!, reason: reqStr(args, 'reason') });
      return { json: r, text: `dead letter ${r.deadId} discarded; archived as outbox_dead_archive row ${r.archiveId}` };
    },
  },
  {
    path: ['outbox', 'dead', 'discarded'],
    summary: 'Dead letters discarded so far (table outbox_dead_archive), newest first: the raw event, why it was\ndead-lettered, why it was discarded and by whom.',
    options: LIMIT_OPTION,
    async run(ctx, args) {
      const rows = await listDiscardedLetters(ctx.services(), ctx.actor, limitOf(args));
      const text = rows.length === 0
        ? 'no discarded dead letters'
        : table(['archive id', 'dead id', 'discarded at', 'by', 'reason', 'tenants', 'event'],
          rows.map((d) => [d.archiveId.toString(), d.deadId, iso(d.discardedAt), `${d.actorKind}:${d.actorId}`, d.reason, d.tenants.join(',') || '-', d.event.length > 60 ? `${d.event.slice(0, 57)}...` : d.event]));
      return { json: rows, text };
    },
  },
];
