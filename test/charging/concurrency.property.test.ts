/**
 * Randomized concurrency (fast-check) on real Redis + PostgreSQL: 1-200 concurrent calls of one tenant spread over
 * 2-3 engine instances (separate engine objects with separate Redis connections in one process), random ring and
 * talk times, hang-ups, BYE latency after a cut, top-ups during calls, and at most one instance killed mid-run
 * (its calls are then reclaimed by the lease sweeper of a survivor and reported late by a restarted instance).
 * Time is a manual clock, so minutes of calls run in well under a second of real time.
 * Invariants: no bucket below 0 after any clock event (fair-share give-backs included); debits + remaining = credits;
 * exactly one outbox event per call; sum(debits) = CDR charge; re-rating every CDR reproduces its charge; no call
 * billed past its grant, and none runs past it by more than its BYE latency (it is cut); no lease left behind.
 * CHARGING_PROPERTY_RUNS sets the number of runs (short default here; `npm run test:charging:long` runs many);
 * the seed is printed and PROPERTY_SEED repeats a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testPrefix } from '../helpers/redis.js';
import { applyCredit, loadTenant } from '../../src/charging/tenant-sync.js';
import { keys } from '../../src/charging/keys.js';
import { rerate } from '../../src/rating/charge.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { propertyRun } from '../helpers/property.js';
import { facts, outbox, startInstance, stopInstance, testConfig, type Instance } from './setup.js';

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

const schemeArb = fc.record({
  price: fc.constantFrom('0.1', '0.6', '0.07', '1.23', '0.123456'),
  inc: fc.constantFrom([1, 1], [6, 6], [60, 60], [30, 6]),
  connectFee: fc.constantFrom('0', '0.05'),
  minimum: fc.constantFrom(0, 30),
  rounding: fc.constantFrom('up', 'down', 'half-up'),
  slice: fc.constantFrom(5, 10, 60),
});
const callArb = fc.record({
  start: fc.integer({ min: 0, max: 60_000 }),
  ring: fc.integer({ min: 0, max: 5000 }),
  answered: fc.integer({ min: 0, max: 9 }).map((n) => n < 8), // 80 % answered
  talk: fc.integer({ min: 0, max: 300_000 }),
  byeLatency: fc.integer({ min: 0, max: 2000 }),
  instance: fc.nat(2),
});
const scenarioArb = fc.record({
  scheme: schemeArb,
  credit: fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 20_000n })),
  calls: fc.array(callArb, { minLength: 1, maxLength: 200, size: 'max' }),
  topUps: fc.array(fc.record({ at: fc.integer({ min: 0, max: 200_000 }), fen: fc.bigInt({ min: 1n, max: 5000n }) }), { maxLength: 3 }),
  instances: fc.integer({ min: 2, max: 3 }),
  kill: fc.option(fc.record({ which: fc.nat(2), at: fc.integer({ min: 0, max: 200_000 }) }), { nil: undefined }),
});

it(`charges never exceed credit, no call billed or run past its grant, every call settles once, re-rating matches (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (sc) => {
      run++;
      const T0 = Date.UTC(2026, 5, 1);
      const clock = new ManualClock(T0);
      const plan = await createPlan(db.pool, `prop-${run}`, [{ prefix: '86', price: sc.scheme.price, init: sc.scheme.inc[0], sub: sc.scheme.inc[1], connectFee: sc.scheme.connectFee, minimum: sc.scheme.minimum }]);
      const tenant = await createTenant(db.pool, `prop${run}`, plan);
      const bucket = sc.credit > 0n ? (await createBucket(db.pool, tenant, 'paid', sc.credit)).bucketId : (await createBucket(db.pool, tenant, 'paid', 1n)).bucketId;
      const credits = sc.credit > 0n ? sc.credit : 1n;
      const config = testConfig({ 'charging.sliceSeconds': sc.scheme.slice, 'charging.rounding': sc.scheme.rounding });
      const inst: Instance[] = [];
      for (let i = 0; i < sc.instances; i++) inst.push(await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, `p${run}-${i}`, config));
      // loaded before the run: top-ups here go to Redis only (the CLI would also post them to the ledger first)
      await loadTenant(db.pool, inst[0]!.redis, tenant);
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
      let topped = 0n;
      const admitted = new Map<string, { owner: number; answerAt: number | null; grantedUntil: () => number; byeLatency: number }>();
      const finished = new Set<string>();
      const errors: unknown[] = [];
      const reasons: string[] = [];

      sc.calls.forEach((c, i) => {
        const callId = `r${run}c${i}`;
        const owner = c.instance % sc.instances;
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
          admitted.set(callId, { owner, answerAt: null, grantedUntil: () => 0, byeLatency: c.byeLatency });
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
            admitted.set(callId, { owner, answerAt, grantedUntil: () => m.grantedUntil, byeLatency: c.byeLatency });
            clock.at(answerAt + c.talk, () => end(clock.now(), answerAt));
          })()));
        })()));
      });
      sc.topUps.forEach((t, i) => clock.at(T0 + t.at, () => track((async () => {
        await applyCredit(inst[0]!.redis, { tenantId: tenant, bucketId: bucket, kind: 'paid', amountFen: t.fen, validFrom: new Date(0), expiresAt: null, transferId: `r${run}-top${i}` });
        topped += t.fen;
      })())));
      if (sc.kill) {
        const k = sc.kill.which % sc.instances;
        clock.at(T0 + sc.kill.at, () => track((async () => {
          dead.add(k);
          await inst[k]!.engine.close();
        })()));
      }
      // every bucket field, after every clock event once its Redis work has settled
      const negative: string[] = [];
      const settleAndObserve = async () => {
        await settle();
        for (const [field, v] of Object.entries(await inst[0]!.redis.hgetall(keys.buckets(tenant)))) {
          if (BigInt(v) < 0n) negative.push(`${field}=${v} at +${clock.now() - T0} ms`);
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
        const r = await inst[survivor]!.engine.finish(facts(id, tenant, T0, a.answerAt, (a.answerAt ?? T0) + 1000));
        expect(r.duplicate).toBe(true);
      }
      expect(errors).toEqual([]);

      const events = (await outbox(inst[0]!.redis)).filter((e) => e.eventId.startsWith(`call:r${run}c`));
      const ids = events.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length); // exactly once
      expect(ids.length).toBe(sc.calls.length - [...Array(sc.calls.length).keys()].filter((i) => !admitted.has(`r${run}c${i}`) && !finished.has(`r${run}c${i}`)).length);
      for (const id of admitted.keys()) expect(ids).toContain(`call:${id}`);
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
      let debited = 0n;
      for (const e of events) {
        const sum = e.debits!.reduce((a, d) => a + BigInt(d.amountFen), 0n);
        expect(sum.toString()).toBe(e.cdr!.chargeFen);
        expect(rerate(e.cdr!).chargeFen.toString()).toBe(e.cdr!.chargeFen);
        debited += sum;
      }
      const remaining = BigInt((await inst[0]!.redis.hget(keys.buckets(tenant), bucket)) ?? '0');
      expect(remaining >= 0n).toBe(true);
      expect(debited + remaining).toBe(credits + topped);
      expect(await inst[0]!.redis.scard(keys.calls(tenant))).toBe(0); // the fair-sharing live set never leaks
      // every call of this run is settled, so none of them holds a lease any more
      const leased = await Promise.all(sc.calls.map((_, i) => inst[0]!.redis.zscore(keys.leases, `r${run}c${i}`)));
      expect(leased.filter((x) => x !== null)).toEqual([]);
      if (process.env.CHARGING_PROPERTY_VERBOSE) console.log(JSON.stringify({ run, calls: sc.calls.length, events: events.length, admitted: admitted.size, debited: debited.toString(), remaining: remaining.toString(), credits: (credits + topped).toString(), killed: dead.size, reasons: reasons.slice(0, 2) }));
      for (const x of inst) await stopInstance(x);
    }),
    propertyRun('charging concurrency', RUNS),
  );
}, 300_000);
