/**
 * `softswitch outbox dead discard|replay` on real Redis (own key prefix) and a real PostgreSQL test database: a dead
 * letter naming no tenant (which blocks every reconcile --repair) is archived with its raw event, reasons and actor
 * before it leaves Redis; replay and discard are audited; a discard interrupted after the archive commit finishes on
 * retry; two concurrent discards of one letter archive it once.
 */
import { runCliIn, type CliRun } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { deadLetter, deadLetterTenants, ensureGroup, GROUP, listDead, readNew, withOutboxCommands, type OutboxRedis } from '../../src/outbox/stream.js';
import { discardDeadLetter } from '../../src/services/outbox.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testChargingRedis, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { testServices } from '../helpers/services.js';

let db: TestDb;
let redis: ChargingRedis;
let outbox: OutboxRedis;
const prefix = testPrefix();

function run(args: string[]): Promise<CliRun> {
  return runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' });
}

/** An event dead-lettered the way the consumer does it: appended to the outbox, delivered, then moved to dead. */
async function makeDead(raw: string, reason: string, shard = 0): Promise<string> {
  await ensureGroup(outbox, shard);
  await outbox.xadd(outbox.layout.outbox(shard), '*', 'event', raw);
  const [entry] = await readNew(outbox, [shard], 'test-consumer', 1, 0);
  expect(await deadLetter(outbox, entry!, reason, 'test-consumer')).toBe(true);
  const dead = await listDead(outbox, 1000);
  return dead.find((d) => d.streamId === entry!.id && d.id.startsWith(`${shard}:`))!.id;
}

const audit = async (action: string) =>
  (await db.pool.query<{ actor_kind: string; target_id: string; tenant_id: bigint | null; detail: any; after: any }>(`select * from audit_log where action = $1 order by id`, [action])).rows;

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
  outbox = withOutboxCommands(redis, redis.layout);
  await db.pool.query(`insert into tenants (code, legal_name) values ('acme', 'Acme Ltd')`);
});
afterAll(async () => {
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('outbox dead discard', () => {
  it('archives a tenantless letter byte for byte with both reasons and the actor, then removes it; reconcile is no longer blocked', async () => {
    const poison = '{"v":1,"kind":"call.ended","cdr":{"callId":"x"\u0000 broken';
    const id = await makeDead(poison, 'poison: not JSON');
    expect((await deadLetterTenants(outbox)).unknown).toBe(1);

    const noReason = await run(['outbox', 'dead', 'discard', id]);
    expect([noReason.code, noReason.stderr]).toEqual([2, expect.stringContaining('--reason')]);
    const blank = await run(['outbox', 'dead', 'discard', id, '--reason', '   ']);
    expect([blank.code, blank.stderr]).toEqual([2, expect.stringContaining('reason')]);
    const badId = await run(['outbox', 'dead', 'discard', 'x:1', '--reason', 'r']);
    expect([badId.code, badId.stderr]).toEqual([2, expect.stringContaining('<shard>:<stream id>')]);
    const unknown = await run(['outbox', 'dead', 'discard', '0:1-1', '--reason', 'r']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('no dead letter 0:1-1')]);
    expect((await listDead(outbox)).map((d) => d.id)).toEqual([id]);

    const ok = await run(['outbox', 'dead', 'discard', id, '--reason', 'hand-written test event', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const r = JSON.parse(ok.stdout) as { deadId: string; archiveId: string; tenants: string[] };
    expect(r).toMatchObject({ deadId: id, tenants: [] });
    const row = (await db.pool.query(`select * from outbox_dead_archive`)).rows;
    expect(row).toEqual([expect.objectContaining({
      id: BigInt(r.archiveId), shard: 0, dead_id: id.slice(2), event: Buffer.from(poison), dead_reason: 'poison: not JSON', consumer: 'test-consumer',
      reason: 'hand-written test event', actor_kind: 'cli', tenant_ids: [], removed_at: expect.any(Date),
    })]);
    expect(await listDead(outbox)).toEqual([]);
    expect((await deadLetterTenants(outbox)).unknown).toBe(0);
    expect(await audit('outbox.dead.discard')).toEqual([expect.objectContaining({
      actor_kind: 'cli', target_id: id, tenant_id: null, detail: { reason: 'hand-written test event', archiveId: r.archiveId, tenants: [] },
    })]);

    // `outbox dead discarded` lists it: what was thrown away, why and by whom
    const listed = await run(['outbox', 'dead', 'discarded', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { archiveId: string }[]).find((x) => x.archiveId === r.archiveId)).toEqual({
      archiveId: r.archiveId, deadId: id, streamId: expect.stringMatching(/^\d+-\d+$/), deadReason: 'poison: not JSON', consumer: 'test-consumer',
      deadAt: expect.any(String), event: poison, tenants: [], reason: 'hand-written test event', actorKind: 'cli', actorId: expect.any(String),
      discardedAt: expect.any(String), removedAt: expect.any(String),
    });
    const text = await run(['outbox', 'dead', 'discarded', '--limit', '1000']);
    expect(text.stdout).toMatch(new RegExp(`^${r.archiveId}\\s+${id}\\s`, 'm'));
    expect(text.stdout).toContain('hand-written test event');

    // the archive is append-only: the event and the reasons cannot be changed or the row deleted
    await expect(db.pool.query(`update outbox_dead_archive set event = '\\x00'`)).rejects.toThrow(/immutable/);
    await expect(db.pool.query(`update outbox_dead_archive set removed_at = now()`)).rejects.toThrow(/immutable/);
    await expect(db.pool.query(`delete from outbox_dead_archive`)).rejects.toThrow(/append-only/);
  });

  it('replay is audited with the tenant the event names', async () => {
    const raw = JSON.stringify({ v: 1, kind: 'call.ended', tenantId: '1', cdr: { tenantId: '1' } });
    const id = await makeDead(raw, 'refused by PostgreSQL', 1);
    const r = await run(['outbox', 'dead', 'replay', id, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { outboxId } = JSON.parse(r.stdout) as { outboxId: string };
    const back = await outbox.xrange(outbox.layout.outbox(1), outboxId, outboxId);
    expect(back[0]![1]).toEqual(['event', raw]);
    expect(await audit('outbox.dead.replay')).toEqual([expect.objectContaining({
      actor_kind: 'cli', target_id: id, tenant_id: 1n, after: { outboxId }, detail: { tenants: ['1'] },
    })]);
    const again = await run(['outbox', 'dead', 'replay', id]);
    expect([again.code, again.stderr]).toEqual([2, expect.stringContaining(`no dead letter ${id}`)]);
    expect(await audit('outbox.dead.replay')).toHaveLength(1);
    await outbox.xgroup('SETID', outbox.layout.outbox(1), GROUP, '$'); // leave nothing pending for the next test
  });

  it('a discard that stopped after the archive commit finishes on retry without a second archive or audit row', async () => {
    const id = await makeDead('not json either', 'poison');
    const [dead] = (await listDead(outbox)).filter((d) => d.id === id);
    // the state a crash between the commit and the Redis delete leaves: archive row, letter still in Redis
    await db.pool.query(
      `insert into outbox_dead_archive (shard, dead_id, stream_id, dead_reason, consumer, event, reason, actor_kind, actor_id)
       values (0, $1, $2, 'poison', 'test-consumer', $3, 'first try', 'cli', 'someone')`,
      [id.slice(2), dead!.streamId, Buffer.from(dead!.event)],
    );
    const auditsBefore = (await audit('outbox.dead.discard')).length;
    const r = await run(['outbox', 'dead', 'discard', id, '--reason', 'second try', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = (await db.pool.query(`select reason, removed_at from outbox_dead_archive where dead_id = $1`, [id.slice(2)])).rows;
    expect(rows).toEqual([{ reason: 'first try', removed_at: expect.any(Date) }]);
    expect((await audit('outbox.dead.discard')).length).toBe(auditsBefore);
    expect(await listDead(outbox)).toEqual([]);
  });

  it('two concurrent discards of one letter: one succeeds, one archive row, one audit row', async () => {
    const id = await makeDead('{"tenantId":"1", truncated', 'poison');
    const deps = testServices(db.pool, { redis });
    const actor = { kind: 'operator' as const, id: 'token-7' };
    const results = await Promise.allSettled([
      discardDeadLetter(deps, actor, { deadId: id, reason: 'dup a' }),
      discardDeadLetter(deps, actor, { deadId: id, reason: 'dup b' }),
    ]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason.name).toMatch(/ConflictError|NotFoundError/);
    expect((await db.pool.query(`select tenant_ids from outbox_dead_archive where dead_id = $1`, [id.slice(2)])).rows).toEqual([{ tenant_ids: ['1'] }]);
    expect((await audit('outbox.dead.discard')).filter((a) => a.target_id === id)).toEqual([expect.objectContaining({ tenant_id: 1n })]);
    expect(await listDead(outbox)).toEqual([]);
  });
});
