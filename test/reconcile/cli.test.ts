/**
 * `softswitch reconcile` against real PostgreSQL and Redis, through the CLI's entry function runCli (what
 * bin/softswitch.js runs) with captured output: the command's logic, text and --json output and exit statuses.
 * Exit statuses as a separate process sees them are test/cli/cli.test.ts's (one process per status there: each
 * spawned CLI compiles the sources under tsx, which is what timed out on a loaded machine).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { runCliIn, type CliRun } from '../helpers/cli.js';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { loadTenant } from '../../src/charging/tenant-sync.js';
import { createBucket, createTenant } from '../charging/fixtures.js';

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();
let tenantId: string;
let bucketId: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent', ...env });
}

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
  tenantId = await createTenant(db.pool, 'cli-acme', null);
  bucketId = (await createBucket(db.pool, tenantId, 'paid', 10_000n)).bucketId;
  await loadTenant(db.pool, redis, tenantId);
  await redis.hincrby(keys.buckets(tenantId), bucketId, -250); // Redis lost 2.50 CNY the ledger still has
});
afterAll(async () => {
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

it('reports drift (text and --json) and repairs it with --repair; bad input exits 2, Redis unreachable exits 1', async () => {
  const [report, unknown, down] = await Promise.all([
    cli(['reconcile', '--tenant', 'cli-acme']),
    cli(['reconcile', '--tenant', 'nobody']),
    freePort().then((p) => cli(['reconcile', '--repair'], { REDIS_URL: `redis://127.0.0.1:${p}/15` })),
  ]);
  expect(report.code).toBe(0);
  expect(report.stdout).toContain('1 with drift (2.50 CNY in total)');
  expect(report.stdout).toMatch(new RegExp(`${tenantId}\\s+drift\\s+0\\s+${bucketId}\\s+100\\.00\\s+97\\.50\\s+0\\.00\\s+0\\.00\\s+-2\\.50\\s+-`));
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/nobody/);
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('Redis is unreachable');
  expect(await redis.hget(keys.buckets(tenantId), bucketId)).toBe('9750'); // nothing changed so far

  const repaired = await cli(['reconcile', '--repair', '--json']);
  expect(repaired.code).toBe(0);
  const json = JSON.parse(repaired.stdout) as { repaired: number; driftFen: string; tenants: { tenantId: string; repair?: string }[] };
  expect(json).toMatchObject({ repaired: 1, driftFen: '250' });
  expect(json.tenants.find((t) => t.tenantId === tenantId)?.repair).toBe('repaired');
  expect(await redis.hget(keys.buckets(tenantId), bucketId)).toBe('10000');
});

it('reconcile --tenant X --repair refuses (exit 2, says why) while dead letters name the tenant, and changes nothing', async () => {
  await redis.hincrby(keys.buckets(tenantId), bucketId, -100);
  await redis.xadd(keys.outboxDead(keys.shardOfTenant(tenantId)), '*', 'event', JSON.stringify({ eventId: 'call:d1', type: 'call.settled', cdr: { tenantId }, debits: [{ bucketId, amountFen: '100' }] }), 'reason', 'test');
  try {
    const r = await cli(['reconcile', '--tenant', 'cli-acme', '--repair']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1 dead letter(s) name this tenant');
    expect(await redis.hget(keys.buckets(tenantId), bucketId)).toBe('9900');
  } finally {
    await redis.del(keys.outboxDead(keys.shardOfTenant(tenantId)));
    await redis.hincrby(keys.buckets(tenantId), bucketId, 100);
  }
});
