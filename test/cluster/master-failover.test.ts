/**
 * A Redis Cluster master killed mid-calls (private cluster, 3 masters + 3 replicas, REDIS_MODE=cluster, WAIT on one
 * replica). Two engine instances on their own cluster connections carry calls of a tenant whose shard is on the
 * victim master and of a tenant on another master; calls are authorized, metered slice by slice, and settled, and
 * while authorizations and settlements are in flight the victim master gets SIGKILL. Its replica is promoted by the
 * cluster itself (cluster-node-timeout 1 s).
 *
 * What WAIT guarantees (REDIS_WAIT_REPLICAS=1, docs/scaling.md "Durability"): a charging step the app was told of
 * (its reply came back after WAIT said one replica has it) is on the replica that is promoted; asserted directly on
 * the promoted replica before anything is replayed: every settlement acknowledged before the kill has its done
 * marker with the charge the app was told, every live call's grant is the one the app acted on, and no step went
 * unreplicated (softswitch_redis_unreplicated_steps_total stays 0). Steps in flight at the kill were not
 * acknowledged; they are repaired by the engine (refused authorization, settlement replayed, reservation reclaimed).
 *
 * Then: the other master's tenant was served throughout, the victim's tenant is served again after the promotion,
 * and after every call has ended, the outbox drained and reconcile ran: no overdraft, every call settled exactly
 * once (one CDR each, the charge the app was told), ledger == Redis. Time of calls is a manual clock; the failover
 * runs in real time and its duration is printed (docs/scaling.md "What each failure costs").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSlot, waitReady, watchFailovers, type ChargingRedis } from '../../src/charging/redis.js';
import type { OutboxConsumer } from '../../src/outbox/consumer.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { ask, startOwnCluster, until, type OwnCluster, type OwnNode } from '../helpers/own-redis-cluster.js';
import { eventually } from '../helpers/poll.js';
import { testChargingRedis, testPrefix } from '../helpers/redis.js';
import { ManualClock } from '../charging/manual-clock.js';
import { createBucket, createPlan, createTenant } from '../charging/fixtures.js';
import { testConfig, type Instance } from '../charging/setup.js';
import { Calls, T0, checkBooks, startConsumer, startInstances, stopAll, unreplicatedSteps } from './failover-fixture.js';

const BALANCE_FEN = 600n; // 1 fen/s: the victim tenant's calls run into its balance during the test
const CALLS_PER_TENANT = 8;

let db: TestDb;
let cluster: OwnCluster;
let redis: ChargingRedis; // the test's own view (reads only)
let instances: Instance[] = [];
let consumer: OutboxConsumer | undefined;
const prefix = testPrefix();

describe('Redis Cluster: a master SIGKILLed mid-calls', () => {
  beforeAll(async () => {
    db = await createTestDb();
    cluster = await startOwnCluster();
  }, 120_000);
  afterAll(async () => {
    await stopAll(instances, consumer);
    redis?.disconnect();
    await cluster?.destroy();
    await db?.drop();
  });

  it('replica promoted; acknowledged steps survive (WAIT), other masters serve on, nothing overdrawn, every call settled once, ledger == Redis', async () => {
    // WAIT's timeout well above a replica's reply time on a loaded machine, so "every step replicated" is a fact here
    const connect = () => testChargingRedis(prefix, { mode: 'cluster', clusterNodes: cluster.startupNodes, waitTimeoutMs: 1000 });
    redis = connect();
    await waitReady(redis, 15_000);
    expect(redis.waitReplicas).toBe(1);
    const k = redis.layout;
    const plan = await createPlan(db.pool, 'fo-plan', [{ prefix: '86', price: '0.6' }]); // 1 fen per second
    // tenants in consecutive shards: find one on another master than the first
    const tenants: string[] = [];
    const masters = new Map<string, OwnNode>();
    for (let i = 0; i < 4; i++) {
      const id = await createTenant(db.pool, `fo${i}`, plan);
      tenants.push(id);
      masters.set(id, await cluster.masterOf(clusterSlot(`${prefix}${k.tag(k.shardOfTenant(id))}`)));
    }
    const victimTenant = tenants[0]!;
    const victim = masters.get(victimTenant)!;
    const otherTenant = tenants.find((t) => masters.get(t) !== victim)!;
    expect(otherTenant).toBeDefined();
    const credits = new Map<string, bigint>();
    for (const t of [victimTenant, otherTenant]) {
      await createBucket(db.pool, t, 'paid', BALANCE_FEN);
      credits.set(t, BALANCE_FEN);
    }

    const clock = new ManualClock(T0);
    const config = testConfig({ 'charging.sliceSeconds': 10, 'charging.leaseGraceSeconds': 5 });
    instances = await startInstances(connect, db.pool, clock, 2, config);
    consumer = startConsumer(redis, db.pool);
    const calls = new Calls(clock, instances);
    const [A, B] = instances as [Instance, Instance];
    const unreplicatedBefore = await unreplicatedSteps();
    // the app's failover watch (softswitch_redis_failovers_total) on an engine's own connection
    const failovers: { from: string; to: string }[] = [];
    const unwatch = watchFailovers(A.redis, (f) => failovers.push(f));

    // phase 1: calls of both tenants on both instances, metered for 25 s, a few ended (settled, acknowledged)
    let n = 0;
    const id = (t: string) => `fo-${t === victimTenant ? 'v' : 'o'}${n++}`;
    for (let i = 0; i < CALLS_PER_TENANT; i++) {
      for (const t of [victimTenant, otherTenant]) await calls.track(calls.start(id(t), t, i % 2 ? B : A));
    }
    await calls.pump(25_000);
    const live = () => [...calls.all.values()].filter((c) => !c.ended && c.answerAt !== null);
    for (const t of [victimTenant, otherTenant]) {
      for (const c of live().filter((x) => x.tenantId === t).slice(0, 2)) await calls.track(calls.end(c.callId));
    }
    await calls.settle();
    const settledBefore = [...calls.all.values()].filter((c) => c.settled && c.tenantId === victimTenant);
    expect(settledBefore.length).toBeGreaterThanOrEqual(2);
    expect(settledBefore.every((c) => c.confirmed)).toBe(true);
    const grantsBefore = new Map(live().filter((c) => c.tenantId === victimTenant).map((c) => [c.callId, c.granted()]));
    expect(grantsBefore.size).toBeGreaterThanOrEqual(2);
    expect(await unreplicatedSteps()).toBe(unreplicatedBefore); // every step so far confirmed by a replica

    // phase 2: authorizations and settlements in flight on the victim master when it is killed
    const inFlight = live().filter((c) => c.tenantId === victimTenant).slice(0, 2).map((c) => c.callId);
    const timed = <T>(p: Promise<T>) => { const t = Date.now(); return p.then((v) => ({ v, ms: Date.now() - t })); };
    const ends = inFlight.map((callId) => timed(calls.track(calls.end(callId))));
    const starts = [0, 1, 2].map((i) => timed(calls.track(calls.start(id(victimTenant), victimTenant, i % 2 ? B : A))));
    await victim.kill();
    const victimSlot = clusterSlot(`${prefix}${k.tag(k.shardOfTenant(victimTenant))}`);
    const promoted = cluster.waitPromoted(victimSlot, victim, 60_000); // watched from the kill on (real time)
    promoted.catch(() => undefined); // awaited below; a failure before that must not be an unhandled rejection
    // new calls right after the kill: the other master's tenant is served at once; the victim's waits for its shard
    const other = timed(calls.track(calls.start(id(otherTenant), otherTenant, A)));
    const victimNew = timed(calls.track(calls.start(id(victimTenant), victimTenant, B)));
    const otherDone = await other;
    const victimPendingWhenOtherDone = await Promise.race([victimNew.then(() => false), Promise.resolve(true)]);
    await calls.settle();
    expect(otherDone.v.refused).toBeNull();
    expect(otherDone.v.answerAt).not.toBeNull();
    const waited = await Promise.all([...ends, ...starts, victimNew]);

    // the cluster promotes the victim's replica
    const failoverMs = await promoted;

    // WAIT: what the app was told before the kill is on the promoted replica, before any replay
    for (const c of settledBefore) {
      expect(await redis.get(k.done(k.shardOfTenant(victimTenant), c.callId)), c.callId).toBe(`${c.settled!.chargeFen}|${c.settled!.billableSeconds}`);
    }
    for (const [callId, g] of grantsBefore) {
      if (inFlight.includes(callId)) continue; // its settlement may or may not have landed
      expect(Number(await redis.hget(k.call(k.shardOfTenant(victimTenant), callId), 'granted')), callId).toBe(g);
    }

    // the engine's connection saw its shard change master: counted in softswitch_redis_failovers_total
    const promotedTo = await cluster.masterOf(victimSlot);
    await eventually('the failover seen by the engine connection', () => failovers.length > 0, 30_000);
    unwatch();
    expect(failovers).toContainEqual({ from: victim.address, to: promotedTo.address });

    // the killed node comes back and rejoins as the replica of the promoted one: steps are replicated again
    await victim.restart();
    await until('the old master rejoined as a replica in sync', async () => (await ask<string>(victim.port, 'INFO', 'replication')).includes('master_link_status:up'));
    const unreplicatedDuringFailover = await unreplicatedSteps() - unreplicatedBefore;

    // charging goes on: the victim's tenant is served again once the engines' connections see the new master
    let again: Awaited<ReturnType<Calls['start']>> | undefined;
    for (let i = 0; i < 50 && !(again && again.refused === null); i++) {
      again = await calls.track(calls.start(id(victimTenant), victimTenant, B));
      if (again.refused !== null) await calls.pump(1000); // deferred settlements are retried every second meanwhile
    }
    expect(again!.refused).toBeNull();

    // every call ends: the talkers at +60 s, the rest by their cut; then leases of lost reservations run out
    await calls.pump(35_000);
    for (const c of live()) void calls.track(calls.end(c.callId));
    await calls.settle();
    await calls.pump((300 + 5 + 10) * 1000); // a reservation whose reply was lost: pending lease + grace
    await A.engine.sweep();
    await calls.settle();

    expect(await unreplicatedSteps() - unreplicatedBefore).toBe(unreplicatedDuringFailover); // none since the replica is back
    const refused = [...calls.all.values()].filter((c) => c.refused === 'store_down').length;
    const books = await checkBooks({ pool: db.pool, redis, consumer, calls, credits });
    console.log(`master failover: replica promoted ${failoverMs} ms after SIGKILL (cluster-node-timeout 1000 ms); `
      + `other master's tenant: call authorized+answered in ${otherDone.ms} ms (victim's new call still waiting then: ${victimPendingWhenOtherDone}); `
      + `victim's steps in flight or issued during the failover took ${waited.map((w) => w.ms).join(', ')} ms; ${refused} refused store_down; `
      + `${books.cdrs} calls, ${books.chargedFen} fen charged; steps unreplicated while the promoted master had no replica: ${unreplicatedDuringFailover}, after it had one again: 0`);
  }, 300_000);
});
