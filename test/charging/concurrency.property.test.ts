/**
 * Randomized concurrency (fast-check) on real Redis + PostgreSQL (the scenario: ./property-scenario.ts; the same on a
 * Redis Cluster: test/cluster/charging-property.test.ts): 1-200 concurrent calls of 1-3 tenants spread over
 * 2-3 engine instances (separate engine objects with separate Redis connections in one process), random ring and
 * talk times, hang-ups, BYE latency after a cut, top-ups during calls, and at most one instance "killed" mid-run: its
 * engine closed (timers stopped, no call finished, nothing settled), which is what a crash leaves in Redis; its calls
 * are then reclaimed by the lease sweeper of a survivor and reported late by a restarted instance. A real SIGKILL of
 * an app process mid-call, reclaimed by another process's sweep loop: test/e2e/instance-kill.test.ts.
 * Time is a manual clock, so minutes of calls run in well under a second of real time.
 * Invariants: no bucket below 0 after any clock event (fair-share give-backs included); debits + remaining = credits;
 * exactly one outbox event per call; sum(debits) = CDR charge; re-rating every CDR reproduces its charge; no call
 * billed past its grant, and none runs past it by more than its BYE latency (it is cut); no lease left behind.
 * CHARGING_PROPERTY_RUNS sets the number of runs (short default here; `npm run test:charging:long` runs many);
 * the seed is printed and PROPERTY_SEED repeats a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { propertyRun } from '../helpers/property.js';
import { runScenario, scenarioArb } from './property-scenario.js';

const RUNS = Number(process.env.CHARGING_PROPERTY_RUNS ?? 10);
let db: TestDb;
const prefix = testPrefix();
let run = 0;

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

it(`charges never exceed credit, no call billed or run past its grant, every call settles once, re-rating matches (${RUNS} runs, manual clock)`, async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb(), (sc) => runScenario({ pool: db.pool, connect: () => testChargingRedis(prefix), run: ++run }, sc)),
    propertyRun('charging concurrency', RUNS),
  );
}, 300_000);
