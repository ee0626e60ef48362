/**
 * Redis Sentinel (REDIS_MODE=sentinel): a private master + replica + 3 Sentinels (quorum 2, down-after 1 s) on spare
 * ports; two engine instances, each with its own Sentinel connection, carry charged calls of two tenants; while
 * settlements and authorizations are in flight the master gets SIGKILL. The Sentinels promote the replica and the
 * engines' connections find it through them.
 *
 * WAIT (REDIS_WAIT_REPLICAS=1 in sentinel mode): every step acknowledged before the kill is on the promoted replica
 * (asserted there before anything is replayed: done markers with the charge the app was told, live grants). During
 * the failover a connection to the dead master fails fast: new calls are refused store_down (503 to the caller),
 * settlements are deferred and replayed, slice requests are retried until the grant ends. Afterwards charging goes
 * on, and once every call has ended, the outbox drained and reconcile ran: nothing lost or settled twice (one CDR
 * per call, the charge the app was told for every settlement Redis took), no overdraft, ledger == Redis.
 * Call time is a manual clock; the failover runs in real time and its duration is printed (docs/scaling.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, watchFailovers, type ChargingRedis } from '../../src/charging/redis.js';
import type { OutboxConsumer } from '../../src/outbox/consumer.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { eventually } from '../helpers/poll.js';
import { ask, startOwnSentinel, until, type OwnSentinel } from '../helpers/own-redis-cluster.js';
import { testChargingRedis, testPrefix } from '../helpers/redis.js';
import { ManualClock } from '../charging/manual-clock.js';
import { createBucket, createPlan, createTenant } from '../charging/fixtures.js';
import { testConfig, type Instance } from '../charging/setup.js';
import { Calls, T0, checkBooks, startConsumer, startInstances, stopAll, unreplicatedSteps, type CallState } from './failover-fixture.js';

const BALANCE_FEN = 600n; // 1 fen/s
const CALLS_PER_TENANT = 4;

let db: TestDb;
let sentinel: OwnSentinel;
let redis: ChargingRedis;
let instances: Instance[] = [];
let consumer: OutboxConsumer | undefined;
const prefix = testPrefix();

describe('Redis Sentinel: the master SIGKILLed mid-calls', () => {
  beforeAll(async () => {
    db = await createTestDb();
    sentinel = await startOwnSentinel();
  }, 120_000);
  afterAll(async () => {
    await stopAll(instances, consumer);
    redis?.disconnect();
    await sentinel?.destroy();
    await db?.drop();
  });

  it('Sentinel promotes the replica; acknowledged steps survive (WAIT); refused or deferred meanwhile; charging goes on; nothing lost or settled twice, ledger == Redis', async () => {
    // WAIT's timeout well above a replica's reply time on a loaded machine, so "every step replicated" is a fact here
    const connect = () => testChargingRedis(prefix, { mode: 'sentinel', sentinels: sentinel.addresses, sentinelMaster: sentinel.name, waitTimeoutMs: 1000 });
    redis = connect();
    await waitReady(redis, 15_000);
    expect(redis.waitReplicas).toBe(1);
    const k = redis.layout;
    const plan = await createPlan(db.pool, 'sfo-plan', [{ prefix: '86', price: '0.6' }]); // 1 fen per second
    const tenants = [await createTenant(db.pool, 'sfo0', plan), await createTenant(db.pool, 'sfo1', plan)];
    const credits = new Map<string, bigint>();
    for (const t of tenants) {
      await createBucket(db.pool, t, 'paid', BALANCE_FEN);
      credits.set(t, BALANCE_FEN);
    }
    const clock = new ManualClock(T0);
    instances = await startInstances(connect, db.pool, clock, 2, testConfig({ 'charging.sliceSeconds': 10, 'charging.leaseGraceSeconds': 5 }));
    consumer = startConsumer(redis, db.pool);
    const calls = new Calls(clock, instances);
    const [A, B] = instances as [Instance, Instance];
    const unreplicatedBefore = await unreplicatedSteps();
    // the app's failover watch (softswitch_redis_failovers_total) on an engine's own connection
    const failovers: { from: string; to: string }[] = [];
    const unwatch = watchFailovers(A.redis, (f) => failovers.push(f));
    const oldMaster = sentinel.master;
    expect(await sentinel.currentMaster()).toBe(oldMaster.address);

    // phase 1: charged calls on both instances, metered 25 s, two ended (settlements acknowledged)
    let n = 0;
    const id = () => `sfo-${n++}`;
    for (let i = 0; i < CALLS_PER_TENANT; i++) for (const t of tenants) await calls.track(calls.start(id(), t, i % 2 ? B : A));
    await calls.pump(25_000);
    const live = () => [...calls.all.values()].filter((c) => !c.ended && c.answerAt !== null);
    for (const c of live().slice(0, 2)) await calls.track(calls.end(c.callId));
    await calls.settle();
    const settledBefore = [...calls.all.values()].filter((c) => c.settled);
    expect(settledBefore).toHaveLength(2);
    expect(settledBefore.every((c) => c.confirmed)).toBe(true);
    const grantsBefore = new Map(live().map((c) => [c.callId, c.granted()]));
    expect(await unreplicatedSteps()).toBe(unreplicatedBefore); // every step so far confirmed by the replica

    // phase 2: settlements and authorizations in flight when the master dies
    const inFlight = live().slice(0, 2).map((c) => c.callId);
    for (const callId of inFlight) void calls.track(calls.end(callId));
    for (let i = 0; i < 2; i++) void calls.track(calls.start(id(), tenants[i]!, i % 2 ? B : A));
    const killedAt = Date.now();
    await oldMaster.kill();
    // when the Sentinels name the replica as master, watched from the kill on (real time)
    const promoted = until('the Sentinels name the replica', async () => (await sentinel.currentMaster()) === sentinel.replica.address, 60_000);
    promoted.catch(() => undefined); // awaited below; a failure before that must not be an unhandled rejection
    await calls.settle();

    // until the Sentinels have promoted the replica and the engines reach it: new calls are refused, time goes on
    // (deferred settlements are replayed every second, slice requests retried, calls cut at their grant end)
    const during: CallState[] = [];
    let served: CallState | undefined;
    await eventually('a new call served by the promoted master', async () => {
      const c = await calls.track(calls.start(id(), tenants[0]!, A));
      if (c.refused === null) return (served = c);
      during.push(c);
      await calls.pump(1000);
      return null;
    }, 60_000, 250);
    const servedMs = Date.now() - killedAt;
    const promotedMs = await promoted;
    expect(await sentinel.currentMaster()).toBe(sentinel.replica.address);
    expect(served!.answerAt).not.toBeNull();
    expect(during.every((c) => c.refused === 'store_down')).toBe(true);

    // the engine's connection came back on another master: counted in softswitch_redis_failovers_total
    await eventually('the failover seen by the engine connection', () => failovers.length > 0, 30_000);
    unwatch();
    expect(failovers).toEqual([{ from: oldMaster.address, to: sentinel.replica.address }]);

    // WAIT: what the app was told before the kill is on the promoted replica
    const shardOf = (callId: string) => k.shardOfTenant(calls.all.get(callId)!.tenantId);
    for (const c of settledBefore) expect(await redis.get(k.done(shardOf(c.callId), c.callId)), c.callId).toBe(`${c.settled!.chargeFen}|${c.settled!.billableSeconds}`);
    for (const [callId, g] of grantsBefore) {
      if (inFlight.includes(callId)) continue; // its settlement may or may not have landed
      const h = await redis.hmget(k.call(shardOf(callId), callId), 'granted');
      // a call cut at its grant end meanwhile has been settled with that grant; a live one still holds at least it
      if (h[0] !== null) expect(Number(h[0]), callId).toBeGreaterThanOrEqual(g);
      else expect(await redis.exists(k.done(shardOf(callId), callId)), callId).toBe(1);
    }

    // the old master comes back; Sentinel makes it the new master's replica: steps are replicated again
    await oldMaster.restart();
    await until('the old master rejoined as a replica in sync', async () => (await ask<string>(oldMaster.port, 'INFO', 'replication')).includes('master_link_status:up'), 60_000);
    const unreplicatedDuringFailover = await unreplicatedSteps() - unreplicatedBefore;

    // every call ends; lost reservations' leases run out and are swept
    await calls.pump(30_000);
    for (const c of live()) void calls.track(calls.end(c.callId));
    await calls.settle();
    await calls.pump((300 + 5 + 10) * 1000);
    await A.engine.sweep();
    await calls.settle();
    expect(await unreplicatedSteps() - unreplicatedBefore).toBe(unreplicatedDuringFailover);

    const books = await checkBooks({ pool: db.pool, redis, consumer, calls, credits });
    const deferred = [...calls.all.values()].filter((c) => c.settled && !c.confirmed).length;
    console.log(`sentinel failover: replica named master by the Sentinels ${promotedMs} ms after SIGKILL (down-after-milliseconds 1000), first new call served after ${servedMs} ms; `
      + `${during.length} new call(s) refused store_down meanwhile; ${deferred} settlement(s) deferred and replayed; `
      + `${books.cdrs} calls, ${books.chargedFen} fen charged; steps unreplicated while the new master had no replica: ${unreplicatedDuringFailover}, after: 0`);
  }, 300_000);
});
