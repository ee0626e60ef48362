/**
 * Outbox consumer on real Redis and real PostgreSQL: exactly-once writing of CDR + ledger, duplicates, poison
 * events, a consumer dying between commit and XACK, two consumers racing over the same entries.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { registry } from '../../src/observability/metrics.js';
import { parseOutboxEvent } from '../../src/outbox/event.js';
import { writeEvent } from '../../src/outbox/cdr-writer.js';
import { GROUP, listDead, replayDead, withOutboxCommands } from '../../src/outbox/stream.js';
import { bucketAccount, postTransfers, systemAccount } from '../../src/ledger/ledger.js';
import { eventually } from '../helpers/poll.js';
import { bucketBalance, counts, expired, pendingCount, rejected, seedTenant, settled, streamLength, takeNew, xadd } from './fixtures/events.js';

const logger = pino({ level: 'silent' });
let db: TestDb;
let redis: ChargingRedis;
let prefix: string;
const consumers: OutboxConsumer[] = [];

function consumerOf(instanceId: string, options = {}): OutboxConsumer {
  const c = createOutboxConsumer({ redis, pool: db.pool, logger, instanceId, options: { blockMs: 50, housekeepingMs: 0, ...options } });
  consumers.push(c);
  return c;
}

async function drain(c: OutboxConsumer): Promise<number> {
  let total = 0;
  for (let n = await c.drainOnce(); n > 0; n = await c.drainOnce()) total += n;
  return total;
}

async function deadLetters(): Promise<{ reason: string; event: string }[]> {
  return (await listDead(withOutboxCommands(redis, redis.layout))).map((d) => ({ event: d.event, reason: d.reason }));
}

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  for (const c of consumers) await c.stop().catch(() => undefined);
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});
beforeEach(async () => {
  for (const c of consumers.splice(0)) await c.stop();
  if (prefix) await deleteKeys(TEST_REDIS_URL, prefix);
  redis?.disconnect();
  prefix = testPrefix();
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
});

describe('outbox consumer', () => {
  it('writes a settled call (CDR + one ledger transfer per debited bucket), a rejected call and an expiry, then acks', async () => {
    const a = await seedTenant(db.pool, 'oc-a', 10_000n);
    const gift = await seedTenant(db.pool, 'oc-a', 500n, 'gift');
    await xadd(redis, settled('w1', a.tenantId, [[a.bucketId, 120n], [gift.bucketId, 10n]]), rejected('w2', a.tenantId), expired(a.tenantId, gift.bucketId, 490n));
    const c = consumerOf('w');
    expect(await drain(c)).toBe(3);

    const cdr = (await db.pool.query('select * from cdrs where call_id = $1', ['w1'])).rows[0];
    expect(cdr).toMatchObject({ tenant_id: BigInt(a.tenantId), charge_fen: 130n, result: 'answered', price_per_minute: '0.130000', billable_seconds: 60, rate_prefix: '86138' });
    expect((cdr.invite_at as Date).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    const tr = (await db.pool.query(`select idempotency_key, amount_fen, kind, call_id from ledger_transfers
      where tenant_id = $1 and kind <> 'top_up' and kind <> 'gift' order by idempotency_key`, [a.tenantId])).rows;
    expect(tr).toEqual([
      { idempotency_key: `call:w1:${a.bucketId}`, amount_fen: 120n, kind: 'call_charge', call_id: 'w1' },
      { idempotency_key: `call:w1:${gift.bucketId}`, amount_fen: 10n, kind: 'call_charge', call_id: 'w1' },
      { idempotency_key: expect.stringMatching(new RegExp(`^expire:${gift.bucketId}:\\d+$`)), amount_fen: 490n, kind: 'expiry_clear', call_id: null },
    ]);
    expect(await bucketBalance(db.pool, a.bucketId)).toBe(10_000n - 120n);
    expect(await bucketBalance(db.pool, gift.bucketId)).toBe(0n);
    expect((await db.pool.query(`select result, reject_reason, charge_fen from cdrs where call_id = 'w2'`)).rows).toEqual([{ result: 'rejected', reject_reason: 'no_balance', charge_fen: 0n }]);
    // the CDR went to its month partition, not the default one
    expect((await db.pool.query(`select count(*)::int as n from cdrs_default where call_id in ('w1', 'w2')`)).rows[0].n).toBe(0);
    const s = await c.stats();
    expect(s).toMatchObject({ pending: 0, undelivered: 0, backlog: 0, deadLetters: 0 });
  });

  it('reads every shard: events of tenants in different shards and a call without a tenant, in one transaction', async () => {
    const tenants: { tenantId: string; bucketId: string }[] = [];
    for (let i = 0; tenants.length < 3 && i < 40; i++) {
      const t = await seedTenant(db.pool, `oc-shard-${i}`, 1000n);
      if (!tenants.some((x) => redis.layout.shardOfTenant(x.tenantId) === redis.layout.shardOfTenant(t.tenantId))) tenants.push(t);
    }
    expect(tenants).toHaveLength(3); // three different shards
    const events = [...tenants.map((t, i) => settled(`sh${i}`, t.tenantId, [[t.bucketId, BigInt(i + 1)]])), rejected('sh-anon', null)];
    await xadd(redis, ...events);
    const batches = async () => (await registry.getSingleMetricAsString('softswitch_outbox_batches_total')).match(/ (\d+)$/m)![1];
    const before = Number(await batches());
    expect(await drain(consumerOf('sh'))).toBe(4);
    expect(Number(await batches()) - before).toBe(1); // four events, one PostgreSQL transaction
    expect((await db.pool.query(`select count(*)::int as n from cdrs where call_id like 'sh%'`)).rows[0].n).toBe(4);
    for (const [i, t] of tenants.entries()) expect(await bucketBalance(db.pool, t.bucketId)).toBe(1000n - BigInt(i + 1));
    expect(await pendingCount(redis)).toBe(0);
    const s = await consumerOf('sh2').stats();
    expect(s.backlog).toBe(0);
    expect(s.shards).toHaveLength(redis.layout.shards);
  });

  it('the one-event-per-transaction writer (bench baseline) writes the same', async () => {
    const t = await seedTenant(db.pool, 'oc-single', 1000n);
    await xadd(redis, ...Array.from({ length: 5 }, (_, i) => settled(`single${i}`, t.tenantId, [[t.bucketId, 2n]])), '{poison');
    const batches = async () => Number((await registry.getSingleMetricAsString('softswitch_outbox_batches_total')).match(/ (\d+)$/m)![1]);
    const before = await batches();
    expect(await drain(consumerOf('single', { perEventTransactions: true }))).toBe(6);
    expect((await batches()) - before).toBe(5);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(990n);
    expect(await deadLetters()).toHaveLength(1);
  });

  it('creates a missing month partition for an old or future CDR', async () => {
    const t = await seedTenant(db.pool, 'oc-part', 1000n);
    const inviteAt = Date.UTC(2027, 5, 1, 0, 0, 0);
    await xadd(redis, settled('p1', t.tenantId, [[t.bucketId, 5n]], { inviteAt, endAt: inviteAt + 5000 }));
    expect(await drain(consumerOf('p'))).toBe(1);
    expect((await db.pool.query(`select count(*)::int as n from cdrs_2027_06 where call_id = 'p1'`)).rows[0].n).toBe(1);
  });

  it('a duplicated event is written once and both entries are acked', async () => {
    const t = await seedTenant(db.pool, 'oc-dup', 1000n);
    const ev = settled('d1', t.tenantId, [[t.bucketId, 7n]]);
    await xadd(redis, ev, ev, ev);
    const before = await counts(db.pool);
    expect(await drain(consumerOf('d'))).toBe(3);
    const after = await counts(db.pool);
    expect(after.cdrs - before.cdrs).toBe(1);
    expect(after.transfers - before.transfers).toBe(1);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(993n);
    expect(await pendingCount(redis)).toBe(0);
  });

  it("poison events go to their shard's dead-letter stream with their reason and do not block the events behind them", async () => {
    const t = await seedTenant(db.pool, 'oc-poison', 1000n);
    const other = await seedTenant(db.pool, 'oc-other', 1000n);
    await xadd(redis, '{not json', settled('ok1', t.tenantId, [[t.bucketId, 1n]]));
    await redis.xadd(redis.layout.outbox(0), '*', 'wrong', 'field');
    // valid JSON, but debits a bucket of another tenant: PostgreSQL-side check, permanent → dead-letter
    await xadd(redis, settled('steal', t.tenantId, [[other.bucketId, 50n]]), settled('ok2', t.tenantId, [[t.bucketId, 2n]]));
    // valid, but more than the ledger holds: the ledger refuses the overdraw (LedgerError) → dead-letter
    await xadd(redis, settled('over', t.tenantId, [[t.bucketId, 5000n]]));
    expect(await drain(consumerOf('x'))).toBe(6);
    const dead = await deadLetters();
    expect(dead.map((d) => d.reason)).toEqual([
      expect.stringContaining('invalid JSON'),
      'entry has no "event" field',
      expect.stringContaining(`bucket ${other.bucketId} belongs to tenant ${other.tenantId}`),
      expect.stringContaining('overdraw'),
    ]);
    expect(dead[0]!.event).toBe('{not json');
    expect((await db.pool.query(`select call_id from cdrs where call_id in ('ok1','ok2','steal','over') order by call_id`)).rows.map((r) => r.call_id)).toEqual(['ok1', 'ok2']);
    expect(await bucketBalance(db.pool, other.bucketId)).toBe(1000n);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(997n);
    expect(await pendingCount(redis)).toBe(0);
    expect((await consumerOf('x2').stats()).deadLetters).toBe(4);
  });

  it('a dead letter replayed after its cause is fixed is written once; a replay of an unknown id does nothing', async () => {
    const t = await seedTenant(db.pool, 'oc-replay', 100n);
    await xadd(redis, settled('rp1', t.tenantId, [[t.bucketId, 150n]])); // more than the ledger holds
    const c = consumerOf('rp');
    await drain(c);
    const r = withOutboxCommands(redis, redis.layout);
    const [dead] = await listDead(r);
    expect(dead).toMatchObject({ consumer: 'rp', reason: expect.stringContaining('overdraw') });
    // the operator books the payment that was missing, then replays
    await postTransfers(db.pool, [{ idempotencyKey: 'rp-fix', debitAccountId: await systemAccount(db.pool, 'cash'), creditAccountId: await bucketAccount(db.pool, BigInt(t.bucketId)), amountFen: 100n, kind: 'top_up', tenantId: BigInt(t.tenantId) }]);
    expect(dead!.id).toMatch(new RegExp(`^${redis.layout.shardOfTenant(t.tenantId)}:\\d+-\\d+$`)); // <shard>:<id>
    expect(await replayDead(r, dead!.id)).toMatch(/^\d+-\d+$/);
    expect(await replayDead(r, dead!.id)).toBeNull();
    await expect(replayDead(r, '1700000000000-0')).rejects.toThrow(/<shard>:<stream id>/);
    expect(await listDead(r)).toEqual([]);
    expect(await drain(c)).toBe(1);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(50n);
    expect((await db.pool.query(`select count(*)::int as n from cdrs where call_id = 'rp1'`)).rows[0].n).toBe(1);
  });

  it('a consumer that died after COMMIT and before XACK: its entries are claimed and acked, nothing is written twice', async () => {
    const t = await seedTenant(db.pool, 'oc-crash', 10_000n);
    await xadd(redis, ...Array.from({ length: 10 }, (_, i) => settled(`k${i}`, t.tenantId, [[t.bucketId, 10n]])));
    // the dead consumer: read 10 entries, committed 6 of them to PostgreSQL, then vanished (no XACK)
    const taken = await takeNew(redis, 'dead-1', 10);
    for (const e of taken.slice(0, 6)) {
      const p = parseOutboxEvent(e.raw);
      if (!p.ok) throw new Error(p.reason);
      expect(await writeEvent(db.pool, p.event, e.id)).toBe('written');
    }
    expect(await pendingCount(redis)).toBe(10);
    // a live consumer does not steal entries that are not idle long enough
    const live = consumerOf('live-1', { claimIdleMs: 60_000 });
    expect(await drain(live)).toBe(0);
    // once idle past claimIdleMs they are taken over
    const rescuer = consumerOf('live-2', { claimIdleMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect(await drain(rescuer)).toBe(10);
    expect(await pendingCount(redis)).toBe(0);
    const r = await db.pool.query<{ n: number; s: bigint }>(`select count(*)::int as n, sum(amount_fen)::int8 as s from ledger_transfers where call_id like 'k%'`);
    expect(r.rows[0]).toEqual({ n: 10, s: 100n });
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(9_900n);
  });

  it('a consumer restarted under the same name replays its own pending entries', async () => {
    const t = await seedTenant(db.pool, 'oc-restart', 1000n);
    await xadd(redis, settled('r1', t.tenantId, [[t.bucketId, 3n]]), settled('r2', t.tenantId, [[t.bucketId, 4n]]));
    const taken = await takeNew(redis, 'sip-7', 10);
    const p = parseOutboxEvent(taken[0]!.raw);
    if (!p.ok) throw new Error(p.reason);
    await writeEvent(db.pool, p.event, taken[0]!.id); // committed, never acked
    expect(await drain(consumerOf('sip-7', { claimIdleMs: 60_000 }))).toBe(2);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(993n);
    expect((await db.pool.query(`select count(*)::int as n from cdrs where call_id in ('r1','r2')`)).rows[0].n).toBe(2);
  });

  it('two consumers racing over the same entries (one claiming everything at once) write each event exactly once', async () => {
    const t = await seedTenant(db.pool, 'oc-race', 1_000_000n);
    const N = 120;
    const events = Array.from({ length: N }, (_, i) => settled(`race${i}`, t.tenantId, [[t.bucketId, BigInt(1 + (i % 7))]]));
    const expectedFen = Array.from({ length: N }, (_, i) => BigInt(1 + (i % 7))).reduce((a, b) => a + b, 0n);
    const before = await counts(db.pool);
    // claimIdleMs 0: each consumer also takes over the other's pending entries while they are being written
    const c1 = consumerOf('race-1', { claimIdleMs: 0, batchSize: 20, blockMs: 20 });
    const c2 = consumerOf('race-2', { claimIdleMs: 0, batchSize: 20, blockMs: 20 });
    c1.start();
    c2.start();
    for (let i = 0; i < N; i += 50) await xadd(redis, ...events.slice(i, i + 50));
    await eventually('both consumers drained the stream', async () => (await c1.stats()).backlog === 0, 30_000);
    await c1.stop();
    await c2.stop();
    const after = await counts(db.pool);
    expect(after.cdrs - before.cdrs).toBe(N);
    expect(after.transfers - before.transfers).toBe(N);
    expect(after.dupCdrs).toBe(0);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(1_000_000n - expectedFen);
    expect(await pendingCount(redis)).toBe(0);
    expect(await deadLetters()).toEqual([]);
  });

  it('the consumer group lost (Redis restarted without its data) is made again on the next round', async () => {
    const t = await seedTenant(db.pool, 'oc-nogroup', 1000n);
    const c = consumerOf('ng');
    await xadd(redis, settled('ng1', t.tenantId, [[t.bucketId, 1n]]));
    expect(await drain(c)).toBe(1);
    for (const s of redis.layout.all()) await redis.xgroup('DESTROY', redis.layout.outbox(s), GROUP);
    await xadd(redis, settled('ng2', t.tenantId, [[t.bucketId, 1n]]));
    await expect(c.drainOnce()).rejects.toThrow(/NOGROUP/);
    // the new group starts from the beginning of the stream: ng1 comes again and is recognized as written
    expect(await drain(c)).toBe(2);
    expect(await bucketBalance(db.pool, t.bucketId)).toBe(998n);
  });

  it('acked entries are trimmed after the retention time; unacked entries never are', async () => {
    const t = await seedTenant(db.pool, 'oc-trim', 1000n);
    await xadd(redis, settled('t1', t.tenantId, [[t.bucketId, 1n]]), settled('t2', t.tenantId, [[t.bucketId, 1n]]));
    const c = consumerOf('trim', { ackRetentionMs: 0, blockMs: 20 });
    c.start();
    await xadd(redis, '{"poison"');
    await eventually('the outbox trimmed to empty', async () => (await streamLength(redis)) === 0);
    await c.stop();
    const shard = redis.layout.shardOfTenant(t.tenantId);
    const stream = redis.layout.outbox(shard);
    expect(await redis.zcard(redis.layout.outboxAcked(shard))).toBe(0);
    expect(await streamLength(redis, 'outboxDead')).toBe(1);
    // a pending (delivered to another consumer, unacked) entry survives the trims that delete an acked one beside it
    const [pendingId] = await xadd(redis, settled('t3', t.tenantId, [[t.bucketId, 1n]]));
    expect((await takeNew(redis, 'other', 10)).map((e) => e.id)).toEqual([pendingId]);
    const [ackedId] = await xadd(redis, settled('t4', t.tenantId, [[t.bucketId, 1n]]));
    const c2 = consumerOf('trim2', { ackRetentionMs: 0, claimIdleMs: 60_000, blockMs: 20 });
    c2.start();
    await eventually(`acked entry ${ackedId} trimmed`, async () => (await redis.xrange(stream, ackedId!, ackedId!)).length === 0);
    await c2.stop();
    expect((await redis.xrange(stream, '-', '+')).map(([id]) => id)).toEqual([pendingId]);
    expect(await pendingCount(redis)).toBe(1);
    expect((await db.pool.query(`select call_id from cdrs where call_id in ('t3', 't4')`)).rows).toEqual([{ call_id: 't4' }]);
  });
});
