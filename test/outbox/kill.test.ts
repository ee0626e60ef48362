/**
 * A consumer process killed with SIGKILL while it writes (possibly between COMMIT and XACK): another consumer takes
 * over its pending entries; every event lands exactly once.
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
  await xadd(redis, ...Array.from({ length: N }, (_, i) => settled(`kill${i}`, t.tenantId, [[t.bucketId, BigInt(1 + (i % 5))]])));
  const stream = redis.layout.outbox(redis.layout.shardOfTenant(t.tenantId));
  const victimPending = async () => (await redis.xpending(stream, GROUP, '-', '+', 1000, 'victim')).length;
  // kill it while it holds a batch (read, being written or committed, not acked) after it wrote some; a kill that
  // lands between a batch's XACK and the next read leaves nothing pending: then a new victim goes on and is killed
  let pendingOfVictim = 0;
  for (let attempt = 0; attempt < 5 && pendingOfVictim === 0 && (await processed()) < N - 30; attempt++) {
    const a = child('victim');
    await once(a.stdout!, 'data');
    const from = await processed();
    for (const end = Date.now() + 20_000; Date.now() < end && ((await processed()) < from + 20 || (await victimPending()) === 0); ) await new Promise((r) => setTimeout(r, 2));
    a.kill('SIGKILL');
    await once(a, 'exit');
    pendingOfVictim = await victimPending();
  }
  const atKill = await processed();
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(N); // killed mid-stream, not after it finished

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
