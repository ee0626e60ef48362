/**
 * Redis killed (SIGKILL) under the consumer and restarted from its append-only file (a private redis-server, never
 * the shared one): the consumer backs off, reconnects, and every event lands exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { bucketBalance, counts, seedTenant, settled, xadd } from './fixtures/events.js';

let db: TestDb;
let dir: string;
let port: number;
let server: ChildProcess | undefined;
let redis: Redis;
let consumer: OutboxConsumer | undefined;

async function startRedis(): Promise<void> {
  // appendfsync always: every write acknowledged to a client survives the SIGKILL
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; i < 200; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error('private redis-server did not start');
}

async function killRedis(): Promise<void> {
  const s = server!;
  s.kill('SIGKILL');
  if (s.exitCode === null && s.signalCode === null) await new Promise((r) => s.once('exit', r));
}

beforeAll(async () => {
  db = await createTestDb();
  dir = mkdtempSync(join(tmpdir(), 'softswitch-redis-'));
  port = await freePort();
  await startRedis();
  redis = new Redis({ port, host: '127.0.0.1', keyPrefix: 'ss:', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  redis.on('error', () => undefined);
});
afterAll(async () => {
  await consumer?.stop();
  redis?.disconnect();
  if (server && server.exitCode === null && server.signalCode === null) await killRedis();
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

it('Redis killed and restarted under the consumer: it reconnects and every event is written once', async () => {
  const t = await seedTenant(db.pool, 'redis-outage', 1_000_000n);
  consumer = createOutboxConsumer({ redis, pool: db.pool, logger: pino({ level: 'silent' }), instanceId: 'ro-1', options: { blockMs: 50, maxBackoffMs: 200, housekeepingMs: 0, batchSize: 10 } });
  consumer.start();
  const ev = (i: number) => settled(`ro${i}`, t.tenantId, [[t.bucketId, 2n]]);
  await xadd(redis, ...Array.from({ length: 60 }, (_, i) => ev(i)));
  for (const end = Date.now() + 10_000; Date.now() < end && (await counts(db.pool)).processed < 10; ) await new Promise((r) => setTimeout(r, 10));

  await killRedis(); // mid-stream: some entries written in PostgreSQL may not be acked
  await new Promise((r) => setTimeout(r, 300));
  expect(consumer.alive()).toBe(true);
  await startRedis();
  for (let i = 0; i < 200; i++) {
    try {
      await xadd(redis, ...Array.from({ length: 40 }, (_, k) => ev(60 + k)));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // the shared test connection is still reconnecting
    }
  }
  for (const end = Date.now() + 20_000; Date.now() < end && (await counts(db.pool)).processed < 100; ) await new Promise((r) => setTimeout(r, 25));
  for (const end = Date.now() + 5_000; Date.now() < end && (await consumer.stats()).backlog > 0; ) await new Promise((r) => setTimeout(r, 25));
  expect((await consumer.stats()).backlog).toBe(0);
  expect(await counts(db.pool)).toMatchObject({ cdrs: 100, transfers: 100, processed: 100, dupCdrs: 0 });
  expect(await bucketBalance(db.pool, t.bucketId)).toBe(1_000_000n - 200n);
});
