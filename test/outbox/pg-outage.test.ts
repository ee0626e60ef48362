/**
 * PostgreSQL stopped mid-run (its own server, never the shared one): events wait in the outbox, nothing is acked,
 * and once the server is back every event lands exactly once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { pino } from 'pino';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-pg.js';
import { bucketBalance, counts, seedTenant, settled, xadd } from './fixtures/events.js';
import { eventually } from '../helpers/poll.js';
import { metrics } from '../../src/observability/metrics.js';

let pg: OwnPostgres;
let pool: Pool;
let redis: ChargingRedis;
let consumer: OutboxConsumer | undefined;
const prefix = testPrefix();

beforeAll(async () => {
  pg = await startOwnPostgres();
  pool = createPool(pg.url, 5);
  await migrate(pool);
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
});
afterAll(async () => {
  await consumer?.stop();
  await pool?.end().catch(() => undefined);
  pg?.destroy();
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
});

it('PostgreSQL stopped mid-run: events wait in the outbox, unacked, and land exactly once when it returns', async () => {
  const t = await seedTenant(pool, 'outage', 100_000n);
  consumer = createOutboxConsumer({
    redis, pool, logger: pino({ level: 'silent' }), instanceId: 'outage-1',
    options: { blockMs: 50, maxBackoffMs: 200, housekeepingMs: 0, batchSize: 10 },
  });
  consumer.start();
  const ev = (i: number) => settled(`o${i}`, t.tenantId, [[t.bucketId, BigInt(i + 1)]]);
  await xadd(redis, ...Array.from({ length: 20 }, (_, i) => ev(i)));
  await eventually('first 20 events', async () => (await consumer!.stats()).backlog === 0, 30_000);

  pg.stop();
  // events produced while PostgreSQL is down, some while the consumer is mid-batch
  for (let i = 20; i < 50; i += 5) {
    await xadd(redis, ...Array.from({ length: 5 }, (_, k) => ev(i + k)));
    await new Promise((r) => setTimeout(r, 100));
  }
  const retries = async () => (await metrics.outboxProcessedTotal.get()).values.find((v) => v.labels.outcome === 'retry')?.value ?? 0;
  const before = await retries();
  await eventually('several failed retries', async () => (await retries()) >= before + 3, 30_000);
  const during = await consumer.stats();
  expect(during.backlog).toBe(30); // nothing acknowledged, nothing lost
  expect(during.pending).toBeGreaterThan(0); // the consumer did try
  expect(during.deadLetters).toBe(0); // a store outage is not a poison event
  expect(consumer.alive()).toBe(true);

  pg.start();
  await eventually('all events after the restart', async () => (await consumer!.stats()).backlog === 0, 30_000);
  const c = await counts(pool);
  expect(c).toMatchObject({ cdrs: 50, transfers: 50, processed: 50, dupCdrs: 0 });
  expect(await bucketBalance(pool, t.bucketId)).toBe(100_000n - BigInt((50 * 51) / 2));
});
