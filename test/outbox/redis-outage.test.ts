/**
 * Redis killed (SIGKILL) under the consumer and restarted from its append-only file (a private redis-server, never
 * the shared one): the consumer backs off, reconnects, and every event lands exactly once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { testChargingRedis } from '../helpers/redis.js';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { bucketBalance, counts, seedTenant, settled, xadd } from './fixtures/events.js';
import { eventually } from '../helpers/poll.js';
import { metrics } from '../../src/observability/metrics.js';

let db: TestDb;
let own: OwnRedis; // append-only, fsync always: every write acknowledged to a client survives the SIGKILL
let redis: ChargingRedis;
let consumer: OutboxConsumer | undefined;

beforeAll(async () => {
  db = await createTestDb();
  own = await startOwnRedis({ appendOnly: true });
  redis = testChargingRedis('ss:', {}, { enableOfflineQueue: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 }, own.url);
});
afterAll(async () => {
  await consumer?.stop();
  redis?.disconnect();
  await own?.destroy();
  await db?.drop();
});

it('Redis killed and restarted under the consumer: it reconnects and every event is written once', async () => {
  const t = await seedTenant(db.pool, 'redis-outage', 1_000_000n);
  consumer = createOutboxConsumer({ redis, pool: db.pool, logger: pino({ level: 'silent' }), instanceId: 'ro-1', options: { blockMs: 50, maxBackoffMs: 200, housekeepingMs: 0, batchSize: 10 } });
  consumer.start();
  const ev = (i: number) => settled(`ro${i}`, t.tenantId, [[t.bucketId, 2n]]);
  await xadd(redis, ...Array.from({ length: 60 }, (_, i) => ev(i)));
  await eventually('10 events written', async () => (await counts(db.pool)).processed >= 10, 30_000, 10);

  const retries = async () => (await metrics.outboxProcessedTotal.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
  const before = await retries();
  await own.kill(); // mid-stream: some entries written in PostgreSQL may not be acked
  await eventually('the consumer failing against the killed Redis', async () => (await retries()) > before, 30_000);
  expect(consumer.alive()).toBe(true);
  await own.start();
  for (let i = 0; i < 200; i++) {
    try {
      await xadd(redis, ...Array.from({ length: 40 }, (_, k) => ev(60 + k)));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // the shared test connection is still reconnecting
    }
  }
  await eventually('100 events written', async () => (await counts(db.pool)).processed >= 100, 30_000);
  await eventually('the backlog drained', async () => (await consumer!.stats()).backlog === 0, 30_000);
  expect(await counts(db.pool)).toMatchObject({ cdrs: 100, transfers: 100, processed: 100, dupCdrs: 0 });
  expect(await bucketBalance(db.pool, t.bucketId)).toBe(1_000_000n - 200n);
});
