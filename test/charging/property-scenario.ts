/**
 * The randomized charging scenario (fast-check) shared by the standalone property test
 * (test/charging/concurrency.property.test.ts) and the Redis Cluster one (test/cluster/charging-property.test.ts):
 * 1-200 concurrent calls of 1-3 tenants (in different key shards, so on different masters in a cluster) spread
 * over engine instances (separate engine objects with separate Redis connections in one process), random ring and
 * talk times, hang-ups, BYE latency after a cut, top-ups during calls, and at most one instance killed mid-run (its
 * calls are then reclaimed by the lease sweeper of a survivor and reported late by a restarted instance).
 * Time is a manual clock, so minutes of calls run in well under a second of real time.
 * Invariants, per tenant: no bucket below 0 after any clock event (fair-share give-backs included); debits +
 * remaining = credits; exactly one outbox event per call; sum(debits) = CDR charge; re-rating every CDR reproduces
 * its charge; no call billed past its grant, and none runs past it by more than its BYE latency (it is cut); no
 * lease left behind; the fair-sharing live set empty at the end.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { applyCredit, loadTenant } from '../../src/charging/tenant-sync.js';
import type { Pool } from '../../src/db/pool.js';
import { rerate } from '../../src/rating/charge.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { facts, outbox, startInstanceOn, stopInstance, testConfig, type Instance } from './setup.js';

const schemeArb = fc.record({
  price: fc.constantFrom('0.1', '0.6', '0.07', '1.23', '0.123456'),
  inc: fc.constantFrom([1, 1], [6, 6], [60, 60], [30, 6]),
  connectFee: fc.constantFrom('0', '0.05'),
  minimum: fc.constantFrom(0, 30),
  rounding: fc.constantFrom('up', 'down', 'half-up'),
  slice: fc.constantFrom(5, 10, 60),
});
const callArb = (tenants: number) => fc.record({
  start: fc.integer({ min: 0, max: 60_000 }),
  ring: fc.integer({ min: 0, max: 5000 }),
  answered: fc.integer({ min: 0, max: 9 }).map((n) => n < 8), // 80 % answered
  talk: fc.integer({ min: 0, max: 300_000 }),
  byeLatency: fc.integer({ min: 0, max: 2000 }),
  instance: fc.nat(2),
  tenant: fc.nat(tenants - 1),
});
const creditArb = fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 20_000n }));

/** `minTenants`..`maxTenants` tenants (default 1-3); consecutive tenant ids are in consecutive key shards. */
export function scenarioArb(o: { instances?: fc.Arbitrary<number>; minTenants?: number; maxTenants?: number } = {}) {
  const maxTenants = o.maxTenants ?? 3;
  return fc.record({
    scheme: schemeArb,
    credits: fc.array(creditArb, { minLength: o.minTenants ?? 1, maxLength: maxTenants }), // one per tenant
    calls: fc.array(callArb(maxTenants), { minLength: 1, maxLength: 200, size: 'max' }),
    topUps: fc.array(fc.record({ at: fc.integer({ min: 0, max: 200_000 }), fen: fc.bigInt({ min: 1n, max: 5000n }), tenant: fc.nat(maxTenants - 1) }), { maxLength: 3 }),
    instances: o.instances ?? fc.integer({ min: 2, max: 3 }),
    kill: fc.option(fc.record({ which: fc.nat(2), at: fc.integer({ min: 0, max: 200_000 }) }), { nil: undefined }),
  });
}
export type Scenario = ReturnType<ReturnType<typeof scenarioArb>['generate']>['value'];

export interface ScenarioEnv {
  pool: Pool;
  /** a new charging connection for one engine instance (its own link, as a separate app server has) */
  connect(): ChargingRedis;
  /** unique per scenario in this database and key prefix: names its plan, tenants, calls and top-ups */
  run: number;
}

interface TenantUnderTest { id: string; bucket: string; credits: bigint; topped: bigint }

export async function runScenario(env: ScenarioEnv, sc: Scenario): Promise<void> {
  const { run } = env;
  const T0 = Date.UTC(2026, 5, 1);
  const clock = new ManualClock(T0);
  const plan = await createPlan(env.pool, `prop-${run}`, [{ prefix: '86', price: sc.scheme.price, init: sc.scheme.inc[0], sub: sc.scheme.inc[1], connectFee: sc.scheme.connectFee, minimum: sc.scheme.minimum }]);
  const tenants: TenantUnderTest[] = [];
  for (const [i, credit] of sc.credits.entries()) {
    const id = await createTenant(env.pool, `prop${run}t${i}`, plan);
    const credits = credit > 0n ? credit : 1n;
    tenants.push({ id, bucket: (await createBucket(env.pool, id, 'paid', credits)).bucketId, credits, topped: 0n });
  }
  const config = testConfig({ 'charging.sliceSeconds': sc.scheme.slice, 'charging.rounding': sc.scheme.rounding });
  const inst: Instance[] = [];
  for (let i = 0; i < sc.instances; i++) inst.push(await startInstanceOn(env.connect(), env.pool, clock, `p${run}-${i}`, config));
  const redis = inst[0]!.redis;
  const k = redis.layout;
  // loaded before the run: top-ups here go to Redis only (the CLI would also post them to the ledger first)
  for (const t of tenants) await loadTenant(env.pool, redis, t.id);
  const dead = new Set<number>();
  const ops = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    ops.add(p);
    void p.finally(() => ops.delete(p));
  };
  const settle = async () => {
    do {
      await Promise.allSettled([...ops]);
      await Promise.all(inst.map((x) => x.engine.idle()));
    } while (ops.size);
  };
  const admitted = new Map<string, { owner: number; tenant: string; answerAt: number | null; grantedUntil: () => number; byeLatency: number }>();
  const finished = new Set<string>();
  const errors: unknown[] = [];
  const reasons: string[] = [];

  sc.calls.forEach((c, i) => {
    const callId = `r${run}c${i}`;
    const owner = c.instance % sc.instances;
    const tenant = tenants[c.tenant % tenants.length]!.id;
    clock.at(T0 + c.start, () => track((async () => {
      if (dead.has(owner)) return;
      const e = inst[owner]!.engine;
      const a = await e.authorize({ callId, tenantId: tenant, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
      if (!a.ok) {
        reasons.push(a.reason + ':' + a.detail);
        await e.recordRejected({ ...facts(callId, tenant, clock.now(), null, clock.now()), result: 'rejected', sipStatus: 403, rejectReason: a.reason });
        finished.add(callId);
        return;
      }
      admitted.set(callId, { owner, tenant, answerAt: null, grantedUntil: () => 0, byeLatency: c.byeLatency });
      const inviteAt = clock.now();
      const end = (endAt: number, answerAt: number | null) => {
        if (dead.has(owner) || finished.has(callId)) return;
        finished.add(callId);
        track(e.finish(facts(callId, tenant, inviteAt, answerAt, endAt)).catch((err: unknown) => errors.push(err)));
      };
      if (!c.answered) {
        clock.at(inviteAt + c.ring, () => end(clock.now(), null));
        return;
      }
      clock.at(inviteAt + c.ring, () => track((async () => {
        if (dead.has(owner)) return;
        const answerAt = clock.now();
        const m = await e.answered(callId, answerAt, (cutAt) => clock.at(cutAt + c.byeLatency, () => end(clock.now(), answerAt)));
        admitted.set(callId, { owner, tenant, answerAt, grantedUntil: () => m.grantedUntil, byeLatency: c.byeLatency });
        clock.at(answerAt + c.talk, () => end(clock.now(), answerAt));
      })()));
    })()));
  });
  sc.topUps.forEach((top, i) => clock.at(T0 + top.at, () => track((async () => {
    const t = tenants[top.tenant % tenants.length]!;
    await applyCredit(redis, { tenantId: t.id, bucketId: t.bucket, kind: 'paid', amountFen: top.fen, validFrom: new Date(0), expiresAt: null, transferId: `r${run}-top${i}` });
    t.topped += top.fen;
  })())));
  if (sc.kill) {
    const victim = sc.kill.which % sc.instances;
    clock.at(T0 + sc.kill.at, () => track((async () => {
      dead.add(victim);
      await inst[victim]!.engine.close();
    })()));
  }
  // every bucket field, after every clock event once its Redis work has settled
  const negative: string[] = [];
  const settleAndObserve = async () => {
    await settle();
    for (const t of tenants) {
      for (const [field, v] of Object.entries(await redis.hgetall(k.buckets(t.id)))) {
        if (BigInt(v) < 0n) negative.push(`tenant ${t.id} bucket ${field}=${v} at +${clock.now() - T0} ms`);
      }
    }
  };
  await clock.advance(8 * 60_000, settleAndObserve);
  // after every grant + lease grace has passed: survivors reclaim the dead instance's calls
  await clock.advance(config.charging.maxCallSeconds * 1000, settleAndObserve);
  expect(negative).toEqual([]);
  const survivor = inst.findIndex((_, i) => !dead.has(i));
  await inst[survivor]!.engine.sweep();
  // the killed instance comes back and reports its calls' ends late: nothing charged twice
  const late = [...admitted].filter(([id, a]) => dead.has(a.owner) && !finished.has(id));
  for (const [id, a] of late) {
    const r = await inst[survivor]!.engine.finish(facts(id, a.tenant, T0, a.answerAt, (a.answerAt ?? T0) + 1000));
    expect(r.duplicate).toBe(true);
  }
  expect(errors).toEqual([]);

  const events = (await outbox(redis)).filter((e) => e.eventId.startsWith(`call:r${run}c`));
  const ids = events.map((e) => e.eventId);
  expect(new Set(ids).size).toBe(ids.length); // exactly once
  expect(ids.length).toBe(sc.calls.length - [...Array(sc.calls.length).keys()].filter((i) => !admitted.has(`r${run}c${i}`) && !finished.has(`r${run}c${i}`)).length);
  for (const id of admitted.keys()) expect(ids).toContain(`call:${id}`);
  // each event is in the outbox stream of its tenant's shard
  for (const t of tenants) {
    const inShard = new Set((await redis.xrange(k.outbox(k.shardOfTenant(t.id)), '-', '+')).map(([, f]) => (JSON.parse(f[1]!) as { eventId: string }).eventId));
    const misplaced = events.filter((e) => e.cdr!.tenantId === t.id && !inShard.has(e.eventId)).map((e) => e.eventId);
    expect(misplaced).toEqual([]);
  }
  // no call billed past its grant, and none left running past it (cut at grant end, gone after its BYE latency);
  // the grant is what the engine that metered the call held at its end (a killed instance's calls are billed by
  // the sweeper from Redis and are not in this check)
  const pastGrant: string[] = [];
  for (const e of events) {
    const a = admitted.get(e.eventId.slice('call:'.length));
    if (!a || a.answerAt === null || dead.has(a.owner)) continue;
    const until = a.grantedUntil();
    if (e.cdr!.answerAt! + e.cdr!.durationMs > until) pastGrant.push(`${e.eventId} billed ${e.cdr!.durationMs} ms, granted until +${until - e.cdr!.answerAt!} ms`);
    if (e.cdr!.endAt > until + a.byeLatency) pastGrant.push(`${e.eventId} ended ${e.cdr!.endAt - until} ms after its grant (BYE latency ${a.byeLatency} ms)`);
  }
  expect(pastGrant).toEqual([]);
  const summary: Record<string, unknown>[] = [];
  for (const t of tenants) {
    let debited = 0n;
    for (const e of events.filter((x) => x.cdr!.tenantId === t.id)) {
      const sum = e.debits!.reduce((a, d) => a + BigInt(d.amountFen), 0n);
      expect(sum.toString()).toBe(e.cdr!.chargeFen);
      expect(rerate(e.cdr!).chargeFen.toString()).toBe(e.cdr!.chargeFen);
      debited += sum;
    }
    const remaining = BigInt((await redis.hget(k.buckets(t.id), t.bucket)) ?? '0');
    expect(remaining >= 0n).toBe(true);
    expect(debited + remaining, `tenant ${t.id}`).toBe(t.credits + t.topped);
    expect(await redis.scard(k.calls(t.id))).toBe(0); // the fair-sharing live set never leaks
    summary.push({ tenant: t.id, shard: k.shardOfTenant(t.id), debited: debited.toString(), remaining: remaining.toString(), credits: (t.credits + t.topped).toString() });
  }
  // every call of this run is settled, so none of them holds a lease any more
  const leased = await Promise.all(sc.calls.map((c, i) => redis.zscore(k.leases(k.shardOfTenant(tenants[c.tenant % tenants.length]!.id)), `r${run}c${i}`)));
  expect(leased.filter((x) => x !== null)).toEqual([]);
  if (process.env.CHARGING_PROPERTY_VERBOSE) console.log(JSON.stringify({ run, calls: sc.calls.length, events: events.length, admitted: admitted.size, tenants: summary, killed: dead.size, reasons: reasons.slice(0, 2) }));
  for (const x of inst) await stopInstance(x);
}
