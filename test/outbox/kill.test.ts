/**
 * A consumer process killed with SIGKILL while it holds a batch (read from the stream, its PostgreSQL transaction
 * open, not acked): another consumer takes over its pending entries; every event lands exactly once. (A crash between
 * COMMIT and XACK is the duplicate-delivery case of test/outbox/consumer.test.ts: the guard row makes it a no-op.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { outboxStats, GROUP, withOutboxCommands } from '../../src/outbox/stream.js';
import { bucketBalance, counts, seedTenant, settled, xadd } from './fixtures/events.js';
import { projectPath } from '../../src/util/paths.js';
import { createOutboxConsumer } from '../../src/outbox/consumer.js';
import { pino } from 'pino';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();
const children: ChildProcess[] = [];

function child(name: string): ChildProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', projectPath('test', 'outbox', 'fixtures', 'consume-child.ts'), db.url, TEST_REDIS_URL, prefix, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(p);
  return p;
}

async function processed(): Promise<number> {
  return (await counts(db.pool)).processed;
}

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

it('kill -9 of a consumer mid-stream: the next one claims its entries, each event is written once', async () => {
  const t = await seedTenant(db.pool, 'killed', 10_000_000n);
  const N = 150;
  const FIRST = 50;
  const events = Array.from({ length: N }, (_, i) => settled(`kill${i}`, t.tenantId, [[t.bucketId, BigInt(1 + (i % 5))]]));
  const stream = redis.layout.outbox(redis.layout.shardOfTenant(t.tenantId));
  const victimPending = async () => (await redis.xpending(stream, GROUP, '-', '+', 1000, 'victim')).length;

  // the victim writes a first part, then holds a batch for certain: a real row lock on the bucket's ledger account
  // (taken by this test's own transaction) stops its batch transaction after it read the entries and before it
  // commits or acks, whatever the machine's load; it is killed there
  await xadd(redis, ...events.slice(0, FIRST));
  const a = child('victim');
  await once(a.stdout!, 'data');
  await eventually('the victim wrote the first part', async () => (await processed()) === FIRST, 30_000);
  const lock = await db.pool.connect();
  let pendingOfVictim: number;
  try {
    await lock.query('begin');
    await lock.query('select 1 from ledger_accounts where bucket_id = $1 for update', [t.bucketId]);
    await xadd(redis, ...events.slice(FIRST));
    await eventually('the victim holds a batch it cannot commit', async () => (await victimPending()) > 0, 30_000);
    a.kill('SIGKILL');
    await once(a, 'exit');
    pendingOfVictim = await victimPending();
  } finally {
    await lock.query('rollback').catch(() => undefined);
    lock.release();
  }
  const atKill = await processed();
  expect(atKill).toBe(FIRST); // killed mid-stream: the held batch was not written

  // the heir runs in this process (one process start is enough to prove the kill)
  const heir = createOutboxConsumer({ redis, pool: db.pool, logger: pino({ level: 'silent' }), instanceId: 'heir', options: { blockMs: 20, claimIdleMs: 200, housekeepingMs: 0 } });
  heir.start();
  const o = withOutboxCommands(redis, redis.layout);
  await eventually('the heir drained the backlog', async () => (await outboxStats(o)).backlog === 0, 60_000);
  await heir.stop();

  expect((await outboxStats(o)).backlog).toBe(0);
  const c = await counts(db.pool);
  expect(c).toMatchObject({ cdrs: N, transfers: N, processed: N, dupCdrs: 0 });
  const expected = Array.from({ length: N }, (_, i) => BigInt(1 + (i % 5))).reduce((x, y) => x + y, 0n);
  expect(await bucketBalance(db.pool, t.bucketId)).toBe(10_000_000n - expected);
  // the victim died holding entries (read, maybe committed, not acked): the heir took them all over
  expect(pendingOfVictim).toBeGreaterThan(0);
  expect((await redis.xpending(stream, GROUP, '-', '+', 1000, 'victim')).length).toBe(0);
});
