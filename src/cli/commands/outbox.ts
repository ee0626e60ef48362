/** `softswitch outbox status | dead list | dead replay <id>`: the CDR/ledger outbox as operators see it. */
import { listDead, outboxStats, replayDead, withOutboxCommands } from '../../outbox/stream.js';
import { int, UsageError, type CliContext, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

async function redisOf(ctx: CliContext) {
  const { redis, error } = await ctx.redis();
  if (!redis) throw new Error(`Redis is unreachable (${error}); nothing changed`);
  return withOutboxCommands(redis, redis.layout);
}

export const outboxCommands: CommandSpec[] = [
  {
    path: ['outbox', 'status'],
    summary: 'Events waiting to be written to PostgreSQL (pending + undelivered), the age of the oldest, dead letters.',
    needsDb: false,
    async run(ctx) {
      const s = await outboxStats(await redisOf(ctx));
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
    options: [{ name: 'limit', type: 'int', doc: 'at most this many (default 100)' }],
    needsDb: false,
    async run(ctx, args) {
      const dead = await listDead(await redisOf(ctx), int(args, 'limit', 100, 1, 100_000));
      const text = dead.length === 0
        ? 'no dead letters'
        : table(['dead id', 'outbox id', 'at', 'reason'], dead.map((d) => [d.id, d.streamId, new Date(d.at).toISOString(), d.reason]));
      return { json: dead, text };
    },
  },
  {
    path: ['outbox', 'dead', 'replay'],
    summary: 'Put a dead-lettered event back into the outbox once its cause is fixed (if it still fails it comes back\nwith a new reason). Replay before running reconcile --repair, which would otherwise refund it.',
    positionals: [{ name: 'deadId', doc: 'id shown by `outbox dead list` (<shard>:<stream id>)', required: true }],
    needsDb: false,
    async run(ctx, args) {
      const deadId = args.positionals[0]!;
      if (!/^\d{1,4}:\d{1,20}-\d{1,20}$/.test(deadId)) throw new UsageError(`deadId must be <shard>:<stream id> such as 3:1700000000000-0 (as \`outbox dead list\` prints it), got ${JSON.stringify(deadId)}`);
      const id = await replayDead(await redisOf(ctx), deadId);
      if (id === null) throw new UsageError(`no dead letter ${deadId} (see softswitch outbox dead list)`);
      return { json: { deadId, outboxId: id }, text: `dead letter ${deadId} is back in the outbox as ${id}` };
    },
  },
];
