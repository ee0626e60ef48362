/**
 * Fair sharing of a short balance between concurrent calls (docs/charging.md, "Fair sharing of a short balance"),
 * on real Redis + PostgreSQL with a manual clock and two engine instances. A tenant whose balance is worth less
 * than one slice (sliceSeconds 60) must admit every new call while one billable increment is available, and its
 * calls together must use the credit up to the last increment: total charged == credit up to less than one
 * increment per live call, never more, never a negative balance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { rerate } from '../../src/rating/charge.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { available, facts, outbox, startInstance, stopInstance, testConfig, type Instance } from './setup.js';

let db: TestDb;
const prefix = testPrefix();
const clock = new ManualClock(Date.UTC(2026, 5, 1, 9, 0, 0));
let A: Instance;
let B: Instance;
let perSecond: string; // 0.6 CNY/min, 1/1: 1 fen per second
let sixSix: string; // 1.2 CNY/min, 6/6: 12 fen per 6 s increment
let n = 0;
const slices = { A: 0, B: 0 };

const settle = () => Promise.all([A.engine.idle(), B.engine.idle()]).then(() => undefined);

/** Count slice requests (extend.lua runs) per instance: Redis traffic must stay per slice, not per second. */
function countExtends(i: Instance, name: 'A' | 'B'): void {
  const orig = i.redis.chargeExtend.bind(i.redis);
  i.redis.chargeExtend = (...a) => {
    slices[name]++;
    return orig(...a);
  };
}

beforeAll(async () => {
  db = await createTestDb();
  perSecond = await createPlan(db.pool, 'fair-1-1', [{ prefix: '86', price: '0.6' }]);
  sixSix = await createPlan(db.pool, 'fair-6-6', [{ prefix: '86', price: '1.2', init: 6, sub: 6 }]);
  const config = testConfig({ 'charging.sliceSeconds': 60 });
  A = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'A', config);
  B = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'B', config);
  countExtends(A, 'A');
  countExtends(B, 'B');
});
afterAll(async () => {
  await stopInstance(A);
  await stopInstance(B);
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

interface Outcome { admitted: number; charges: bigint[]; left: bigint; slices: number; cutAll: boolean }

/**
 * `calls` calls of a fresh tenant with `fen` of credit arrive `gapMs` apart (alternating instances), are answered
 * at once and talk until the system cuts them (BYE 300 ms after the cut). Returns what was charged and what is left.
 */
async function share(plan: string, fen: bigint, calls: number, gapMs = 0): Promise<Outcome> {
  const tenantId = await createTenant(db.pool, `fair${++n}`, plan);
  await createBucket(db.pool, tenantId, 'paid', fen);
  const before = slices.A + slices.B;
  const cut = new Map<string, { ans: number; at: number }>();
  const ids: string[] = [];
  let admitted = 0;
  for (let i = 0; i < calls; i++) {
    if (i > 0 && gapMs > 0) await clock.advance(gapMs, settle);
    const id = `f${n}-${i}`;
    const e = (i % 2 ? B : A).engine;
    const a = await e.authorize({ callId: id, tenantId, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
    if (!a.ok) continue;
    admitted++;
    ids.push(id);
    const ans = clock.now();
    await e.answered(id, ans, (at) => cut.set(id, { ans, at }));
  }
  // nobody may hold more than the credit, at any moment
  expect(await available(A.redis, tenantId) >= 0n).toBe(true);
  await clock.advance(600_000, settle);
  const charges: bigint[] = [];
  for (const [i, id] of ids.entries()) {
    const c = cut.get(id);
    if (!c) continue;
    const r = await (Number(id.split('-')[1]) % 2 ? B : A).engine.finish(facts(id, tenantId, c.ans, c.ans, c.at + 300));
    expect(r.duplicate, `call ${i}`).toBe(false);
    charges.push(r.chargeFen);
  }
  const events = (await outbox(A.redis)).filter((e) => ids.some((id) => e.eventId === `call:${id}`));
  for (const e of events) expect(rerate(e.cdr!).chargeFen.toString()).toBe(e.cdr!.chargeFen);
  expect(events).toHaveLength(charges.length);
  expect(await A.redis.scard(keys.calls(tenantId))).toBe(0); // every settled call left the live set
  if (process.env.FAIR_VERBOSE) console.log(JSON.stringify({ calls, admitted, charges: charges.map(String), slices: slices.A + slices.B - before }));
  return { admitted, charges, left: await available(A.redis, tenantId), slices: slices.A + slices.B - before, cutAll: cut.size === ids.length };
}

const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);

describe('fair sharing of a balance smaller than one slice (sliceSeconds 60; manual clock)', () => {
  it.each([2, 5])('%i concurrent calls on 30 s worth of credit are all admitted and use it to the last fen', async (calls) => {
    const o = await share(perSecond, 30n, calls);
    expect(o.admitted).toBe(calls);
    expect(o.cutAll).toBe(true);
    // calls answered together end with equal shares (within one increment): big first grants were given back
    expect(o.charges.every((c) => c >= o.charges[0]! - 1n && c <= o.charges[0]! + 1n)).toBe(true);
    expect(sum(o.charges)).toBe(30n); // 1 fen increments: nothing is left unusable
    expect(o.left).toBe(0n);
    // Redis traffic stays per slice: short shares mean short slices, but their number is bounded by the money
    // (about one request per increment of the short balance plus a few per call), not by talk time
    expect(o.slices).toBeLessThan(30 + 5 * calls);
  });

  it('5 calls arriving 2 s apart while earlier calls hold big slices: all admitted, credit used to the last fen', async () => {
    // the first call gets 15 s alone; by 8 s the others have drawn the rest, and the 5th call is admitted only
    // because the first one gave back what it held beyond its share when it asked for its next slice (7.5 s)
    const o = await share(perSecond, 30n, 5, 2000);
    expect(o.admitted).toBe(5);
    expect(o.cutAll).toBe(true);
    expect(sum(o.charges)).toBe(30n);
    expect(o.left).toBe(0n);
  });

  it.each([2, 5])('6/6 increments, %i concurrent calls on 60 s worth: all admitted; unusable < one increment per call', async (calls) => {
    const o = await share(sixSix, 120n, calls);
    expect(o.admitted).toBe(calls);
    expect(o.cutAll).toBe(true);
    expect(o.charges.every((c) => c >= 12n && c % 12n === 0n)).toBe(true);
    expect(o.charges.every((c) => c >= o.charges[0]! - 12n && c <= o.charges[0]! + 12n)).toBe(true); // fair within one increment
    expect(sum(o.charges) + o.left).toBe(120n);
    expect(o.left < 12n * BigInt(calls)).toBe(true);
    expect(o.left).toBe(0n); // 120 fen is a whole number of increments: all of it is used
  });

  it('a call is still refused when less than one increment is available (shares never exceed the credit)', async () => {
    const tenantId = await createTenant(db.pool, `fair${++n}`, sixSix);
    await createBucket(db.pool, tenantId, 'paid', 11n); // < 12 fen, one 6 s increment
    const a = await A.engine.authorize({ callId: `f${n}-x`, tenantId, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
    expect(a).toMatchObject({ ok: false, reason: 'no_balance' });
    expect(await available(A.redis, tenantId)).toBe(11n);
  });

  it('a large balance still gets full slices (fair sharing only applies when the balance is short)', async () => {
    const tenantId = await createTenant(db.pool, `fair${++n}`, perSecond);
    await createBucket(db.pool, tenantId, 'paid', 100_000n);
    for (let i = 0; i < 3; i++) {
      const a = await A.engine.authorize({ callId: `f${n}-${i}`, tenantId, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
      expect(a.ok).toBe(true);
    }
    expect(await available(A.redis, tenantId)).toBe(100_000n - 3n * 60n);
    for (let i = 0; i < 3; i++) await A.engine.finish(facts(`f${n}-${i}`, tenantId, clock.now(), null, clock.now()));
    expect(await available(A.redis, tenantId)).toBe(100_000n);
  });
});
