/**
 * The randomized charging property (test/charging/property-scenario.ts, the same scenario as the standalone
 * test/charging/concurrency.property.test.ts) on a private Redis Cluster (3 masters + 3 replicas, REDIS_MODE=cluster,
 * WAIT on one replica for every money step): 3-4 tenants with consecutive ids, so in consecutive key shards
 * {s<k>} and on at least two different masters, and two ChargingEngine instances each on its own cluster
 * connection, one of them possibly killed mid-run (its calls reclaimed by the other's sweeper). Same invariants as
 * standalone: no bucket below 0, debits + remaining = credits per tenant, exactly one outbox event per call in its
 * tenant's shard stream, re-rating matches, no call billed or run past its grant, no lease left behind.
 * CHARGING_CLUSTER_PROPERTY_RUNS sets the number of runs (default 10); the seed is printed and PROPERTY_SEED repeats it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterSlot } from '../../src/charging/redis.js';
import { keyLayout } from '../../src/charging/keys.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { startOwnCluster, type OwnCluster } from '../helpers/own-redis-cluster.js';
import { propertyRun } from '../helpers/property.js';
import { testChargingRedis, testPrefix } from '../helpers/redis.js';
import { runScenario, scenarioArb } from '../charging/property-scenario.js';

const RUNS = Number(process.env.CHARGING_CLUSTER_PROPERTY_RUNS ?? 10);
let db: TestDb;
let cluster: OwnCluster;
const prefix = testPrefix();
let run = 0;

beforeAll(async () => {
  db = await createTestDb();
  cluster = await startOwnCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
  await db?.drop();
});

it(`on a Redis Cluster, two engine instances, tenants over several shards and masters: charges never exceed credit, every call settles once, no call billed past its grant (${RUNS} runs, manual clock)`, async () => {
  const connect = () => testChargingRedis(prefix, { mode: 'cluster', clusterNodes: cluster.startupNodes });
  const probe = connect();
  expect(probe.waitReplicas).toBe(1); // cluster mode: every money step WAITs for one replica
  probe.disconnect();
  await fc.assert(
    fc.asyncProperty(
      scenarioArb({ instances: fc.constant(2), minTenants: 3, maxTenants: 4 }),
      (sc) => runScenario({ pool: db.pool, connect, run: ++run }, sc),
    ),
    propertyRun('charging concurrency on Redis Cluster', RUNS),
  );
  // the runs' tenants really were spread: over several shards, and those shards over several masters
  const k = keyLayout(probe.settings.shards);
  const ids = (await db.pool.query<{ id: string }>(`select id::text as id from tenants where code like 'prop%'`)).rows.map((r) => r.id);
  const shards = new Set(ids.map((id) => k.shardOfTenant(id)));
  const masters = new Set(await Promise.all([...shards].map(async (s) => (await cluster.masterOf(clusterSlot(`${prefix}${k.tag(s)}`))).address)));
  expect(shards.size).toBeGreaterThanOrEqual(3);
  expect(masters.size).toBeGreaterThanOrEqual(2);
}, 600_000);
