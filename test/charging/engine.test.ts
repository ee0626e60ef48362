import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { applyCredit, loadTenant, setTenantState } from '../../src/charging/tenant-sync.js';
import { rerate } from '../../src/rating/charge.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { available, facts, outbox, silent, startInstance, stopInstance, testConfig, type Instance } from './setup.js';
import { metrics } from '../../src/observability/metrics.js';
import { createChargingEngine } from '../../src/charging/engine.js';
import { createChargingRedis } from '../../src/charging/redis.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
const prefix = testPrefix();
const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
const clock = new ManualClock(T0);
let A: Instance;
let B: Instance;
let plan: string;
let n = 0;

const settle = () => Promise.all([A.engine.idle(), B.engine.idle()]).then(() => undefined);

/** A fresh tenant with `fen` of paid credit on the 1 fen/s plan. */
async function tenant(fen: bigint, opts: Parameters<typeof createTenant>[3] = {}): Promise<{ id: string; bucket: string }> {
  const id = await createTenant(db.pool, `t${++n}`, plan, opts);
  const b = fen > 0n ? await createBucket(db.pool, id, 'paid', fen) : null;
  return { id, bucket: b?.bucketId ?? '' };
}

beforeAll(async () => {
  db = await createTestDb();
  plan = await createPlan(db.pool, 'engine-plan', [{ prefix: '86', price: '0.6' }, { prefix: '8699', price: '0.6', init: 30, sub: 6, connectFee: '0.05' }]);
  A = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'A');
  B = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'B');
});
afterAll(async () => {
  await stopInstance(A);
  await stopInstance(B);
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

const req = (callId: string, tenantId: string, called = '8613800138000') => ({ callId, tenantId, calledNumber: called, at: clock.now(), failurePolicy: 'terminate' as const });

describe('charging engine (manual clock)', () => {
  it('meters a call in slices and cuts it at the exact second the credit runs out; settle charges exactly the credit', async () => {
    const t = await tenant(100n); // 100 fen = 100 s at 0.6 CNY/min
    const a = await A.engine.authorize(req('c1', t.id));
    expect(a).toMatchObject({ ok: true, maxSeconds: 100, rate: { prefix: '86', pricePerMinute: '0.6' } });
    expect(await available(A.redis, t.id)).toBe(90n); // first slice (10 s) reserved
    const answerAt = clock.now() + 3000;
    await clock.advance(3000, settle);
    const cuts: number[] = [];
    const m = await A.engine.answered('c1', answerAt, (at) => cuts.push(at));
    expect(m.grantedUntil).toBe(answerAt + 10_000);
    await clock.advance(99_000, settle);
    expect(cuts).toEqual([]);
    expect(m.grantedUntil).toBe(answerAt + 100_000);
    await clock.advance(1000, settle);
    expect(cuts).toEqual([answerAt + 100_000]);
    // the BYE lands 400 ms late: not billed
    const r = await A.engine.finish(facts('c1', t.id, T0, answerAt, answerAt + 100_400));
    expect(r).toMatchObject({ chargeFen: 100n, billableSeconds: 100, duplicate: false });
    expect(r.cdr.durationMs).toBe(100_000);
    expect(await available(A.redis, t.id)).toBe(0n);
    const ev = (await outbox(A.redis)).filter((e) => e.eventId === 'call:c1');
    expect(ev).toHaveLength(1);
    expect(ev[0]!.debits).toEqual([{ bucketId: t.bucket, amountFen: '100' }]);
    expect(rerate(ev[0]!.cdr!).chargeFen).toBe(100n);
  });

  it('20 concurrent calls on 2 instances share one balance: never more than it, leftover < one increment per call', async () => {
    const plan2 = await createPlan(db.pool, 'engine-plan-6', [{ prefix: '86', price: '1.23', init: 6, sub: 6 }]);
    const id = await createTenant(db.pool, `t${++n}`, plan2);
    await createBucket(db.pool, id, 'paid', 5000n);
    const ans = clock.now();
    const cut = new Map<string, number>();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? A : B).engine.authorize(req(`m${i}`, id))));
    expect(results.every((r) => r.ok)).toBe(true);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? A : B).engine.answered(`m${i}`, ans, (at) => cut.set(`m${i}`, at))));
    await clock.advance(3_600_000, settle);
    expect(cut.size).toBe(20);
    let charged = 0n;
    for (let i = 0; i < 20; i++) charged += (await (i % 2 ? A : B).engine.finish(facts(`m${i}`, id, ans, ans, cut.get(`m${i}`)! + 500))).chargeFen;
    const left = await available(A.redis, id);
    expect(charged + left).toBe(5000n);
    expect(left >= 0n, `left ${left}`).toBe(true); // never more than the balance
    expect(left < 20n * 13n, `left ${left}`).toBe(true); // one 6 s step costs 12.3 fen: at most 13 fen unusable per live call
  });

  it('a rate deck change reaches authorization after the cache age (stale deck served while it reloads)', async () => {
    const p = await createPlan(db.pool, 'engine-plan-change', [{ prefix: '86', price: '0.6' }]);
    const id = await createTenant(db.pool, `t${++n}`, p);
    await createBucket(db.pool, id, 'paid', 10_000n);
    const price = async (callId: string) => {
      const a = await A.engine.authorize(req(callId, id));
      await A.engine.finish(facts(callId, id, clock.now(), null, clock.now()));
      return a.ok ? a.rate.pricePerMinute : a.reason;
    };
    expect(await price('d1')).toBe('0.6');
    await db.pool.query('update rate_deck_entries set price_per_minute = 0.3 where rate_plan_id = $1', [p]);
    expect(await price('d2')).toBe('0.6');
    await clock.advance(61_000, settle);
    expect(await price('d3')).toBe('0.6'); // served stale at once; the reload runs in the background
    let i = 0;
    expect(await eventually('the reloaded deck', async () => ((await price(`d4-${i++}`)) === '0.3' ? '0.3' : null))).toBe('0.3');
  });

  it('finishing twice charges once and reports the duplicate', async () => {
    const t = await tenant(1000n);
    await A.engine.authorize(req('c2', t.id));
    const ans = clock.now();
    await A.engine.answered('c2', ans, () => undefined);
    await clock.advance(5000, settle);
    const f = facts('c2', t.id, ans, ans, ans + 4200);
    const r1 = await A.engine.finish(f);
    const r2 = await B.engine.finish(f);
    expect(r1).toMatchObject({ chargeFen: 5n, duplicate: false });
    expect(r2).toMatchObject({ chargeFen: 5n, duplicate: true });
    expect(await available(A.redis, t.id)).toBe(995n);
    expect((await outbox(A.redis)).filter((e) => e.eventId === 'call:c2')).toHaveLength(1);
  });

  it('an unanswered call releases its reservation and costs nothing', async () => {
    const t = await tenant(50n);
    await A.engine.authorize(req('c3', t.id));
    expect(await available(A.redis, t.id)).toBe(40n);
    const r = await A.engine.finish(facts('c3', t.id, clock.now(), null, clock.now() + 2000));
    expect(r.chargeFen).toBe(0n);
    expect(await available(A.redis, t.id)).toBe(50n);
    const ev = (await outbox(A.redis)).find((e) => e.eventId === 'call:c3');
    expect(ev).toMatchObject({ type: 'call.settled', debits: [], cdr: { chargeFen: '0', result: 'canceled' } });
  });

  it('refuses with a clear reason: no rate, no balance, suspended, service period, unknown tenant', async () => {
    const t = await tenant(100n);
    expect(await A.engine.authorize(req('r1', t.id, '4420712345'))).toMatchObject({ ok: false, reason: 'no_rate' });
    expect(await A.engine.authorize(req('r1b', t.id, 'abc'))).toMatchObject({ ok: false, reason: 'no_rate' });
    const poor = await tenant(0n);
    expect(await A.engine.authorize(req('r2', poor.id))).toMatchObject({ ok: false, reason: 'no_balance' });
    const s = await tenant(100n, { status: 'suspended' });
    expect(await A.engine.authorize(req('r3', s.id))).toMatchObject({ ok: false, reason: 'suspended' });
    const late = await tenant(100n, { start: new Date(T0 + 86_400_000), end: new Date(T0 + 2 * 86_400_000) });
    expect(await A.engine.authorize(req('r4', late.id))).toMatchObject({ ok: false, reason: 'period_not_started' });
    const over = await tenant(100n, { start: new Date(T0 - 2 * 86_400_000), end: new Date(T0 - 86_400_000) });
    expect(await A.engine.authorize(req('r5', over.id))).toMatchObject({ ok: false, reason: 'period_ended' });
    expect(await A.engine.authorize(req('r6', '987654'))).toMatchObject({ ok: false, reason: 'suspended', detail: expect.stringMatching(/does not exist/) });
    await expect(A.engine.authorize(req('', t.id))).rejects.toThrow(/bad callId/);
    // nothing was reserved by any refusal
    expect(await available(A.redis, t.id)).toBe(100n);
  });

  it('suspension via setTenantState refuses new calls and stops granting slices to live calls', async () => {
    const t = await tenant(1000n);
    await A.engine.authorize(req('s1', t.id));
    const ans = clock.now();
    const cuts: number[] = [];
    await A.engine.answered('s1', ans, (at) => cuts.push(at));
    await setTenantState(A.redis, { tenantId: t.id, status: 'suspended', serviceStart: null, serviceEnd: null, ratePlanId: plan });
    expect(await B.engine.authorize(req('s2', t.id))).toMatchObject({ ok: false, reason: 'suspended' });
    await clock.advance(10_000, settle);
    expect(cuts).toEqual([ans + 10_000]);
    await A.engine.finish(facts('s1', t.id, ans, ans, ans + 10_000));
    expect(await available(A.redis, t.id)).toBe(990n);
  });

  it('a live call is cut when the service period ends', async () => {
    const t = await tenant(1000n, { start: new Date(0), end: new Date(clock.now() + 25_000) });
    await A.engine.authorize(req('p1', t.id));
    const ans = clock.now();
    const cuts: number[] = [];
    await A.engine.answered('p1', ans, (at) => cuts.push(at));
    await clock.advance(60_000, settle);
    expect(cuts).toEqual([ans + 25_000]);
    expect((await A.engine.finish(facts('p1', t.id, ans, ans, ans + 25_100))).chargeFen).toBe(25n);
  });

  it('a top-up during a call at its final grant extends it (the credit message wakes the call, real pub/sub)', async () => {
    const t = await tenant(15n);
    await A.engine.authorize(req('u1', t.id));
    const ans = clock.now();
    const cuts: number[] = [];
    const m = await A.engine.answered('u1', ans, (at) => cuts.push(at));
    // a lone call on a short balance gets it in shrinking fair shares; by 14 s it holds all 15 fen and is final
    await clock.advance(14_000, settle);
    expect(m.grantedUntil).toBe(ans + 15_000);
    expect(await available(A.redis, t.id)).toBe(0n);
    await applyCredit(A.redis, { tenantId: t.id, bucketId: t.bucket, kind: 'paid', amountFen: 100n, validFrom: new Date(0), expiresAt: null, transferId: 'topup-u1' });
    // the manual clock does not move: only the pub/sub credit message can have extended the grant
    await eventually('the grant extended after the top-up', () => m.grantedUntil !== ans + 15_000);
    expect(m.grantedUntil).toBe(ans + 25_000);
    await clock.advance(30_000, settle);
    expect(cuts).toEqual([]); // 115 fen now: the call goes on past 44 s
    const r = await A.engine.finish(facts('u1', t.id, ans, ans, clock.now()));
    expect(r.chargeFen).toBe(44n);
  });

  it('low-credit warning: fires once ~30 s before the credit runs out; the cut and the charge are those of the same call without it', async () => {
    const warned = await tenant(40n); // 40 s at 1 fen/s
    const plain = await tenant(40n);
    await A.engine.authorize(req('w1', warned.id));
    await A.engine.authorize(req('w2', plain.id));
    const ans = clock.now();
    const warnings: { at: number; cutAt: number }[] = [];
    const cutsW: number[] = [];
    const cutsP: number[] = [];
    const mw = await A.engine.answered('w1', ans, (at) => cutsW.push(at), { leadMs: 30_000, onWarning: (cutAt) => warnings.push({ at: clock.now(), cutAt }) });
    const mp = await A.engine.answered('w2', ans, (at) => cutsP.push(at));
    await clock.advance(9_000, settle);
    expect(warnings).toEqual([]); // not before 30 s are left
    await clock.advance(1_000, settle);
    expect(warnings).toEqual([{ at: ans + 10_000, cutAt: ans + 40_000 }]);
    await clock.advance(31_000, settle);
    expect(warnings).toHaveLength(1); // once
    expect(cutsW).toEqual([ans + 40_000]);
    expect(cutsP).toEqual([ans + 40_000]);
    expect(mw.grantedUntil).toBe(mp.grantedUntil);
    const rw = await A.engine.finish(facts('w1', warned.id, ans, ans, ans + 40_000));
    const rp = await A.engine.finish(facts('w2', plain.id, ans, ans, ans + 40_000));
    expect([rw.chargeFen, rw.billableSeconds]).toEqual([40n, 40]);
    expect([rp.chargeFen, rp.billableSeconds]).toEqual([40n, 40]);
  });

  it('low-credit warning: none while the balance can carry the call on; a call that ends first never hears it', async () => {
    const rich = await tenant(1000n);
    const short = await tenant(40n);
    await A.engine.authorize(req('w3', rich.id));
    await A.engine.authorize(req('w4', short.id));
    const ans = clock.now();
    const warnings: string[] = [];
    await A.engine.answered('w3', ans, () => undefined, { leadMs: 30_000, onWarning: () => warnings.push('w3') });
    await A.engine.answered('w4', ans, () => undefined, { leadMs: 30_000, onWarning: () => warnings.push('w4') });
    await clock.advance(5_000, settle);
    await A.engine.finish(facts('w4', short.id, ans, ans, clock.now())); // hung up at 5 s
    await clock.advance(60_000, settle);
    expect(warnings).toEqual([]);
    const r = await A.engine.finish(facts('w3', rich.id, ans, ans, clock.now()));
    expect(r.billableSeconds).toBe(65);
  });

  it('30/6 with a connect fee: reservation and charge agree; leftover is less than one increment', async () => {
    const t = await tenant(100n); // connect 5 fen + 30 s (30 fen) + 6 s steps (6 fen)
    const a = await A.engine.authorize(req('i1', t.id, '8699123'));
    expect(a).toMatchObject({ ok: true, maxSeconds: 90 }); // 5 + 30 + 60 = 95 fen; 96 s would cost 101
    const ans = clock.now();
    const cuts: number[] = [];
    await A.engine.answered('i1', ans, (at) => cuts.push(at));
    await clock.advance(120_000, settle);
    expect(cuts).toEqual([ans + 90_000]);
    const r = await A.engine.finish(facts('i1', t.id, ans, ans, ans + 95_000));
    expect(r).toMatchObject({ chargeFen: 95n, billableSeconds: 90 });
    expect(await available(A.redis, t.id)).toBe(5n); // < 6 fen, one subsequent increment
  });

  it('a lost instance: its call is reclaimed by another instance after grant end + grace, charged once', async () => {
    const t = await tenant(1000n);
    const dead = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'dead');
    await dead.engine.authorize(req('k1', t.id));
    const ans = clock.now();
    await dead.engine.answered('k1', ans, () => undefined);
    await stopInstance(dead); // crash: no finish, no more slices
    await clock.advance(10_000, settle);
    // sweeps see every lease of this file's prefix: assert on this call's lease and events, not on sweep counts
    const k1Events = async () => (await outbox(A.redis)).filter((e) => e.eventId === 'call:k1');
    await B.engine.sweep();
    expect(await A.redis.zscore(keys.leases(keys.shardOfTenant(t.id)), 'k1')).not.toBeNull(); // lease still valid (grace)
    expect(await k1Events()).toEqual([]);
    await clock.advance(5000, settle);
    expect(await B.engine.sweep()).toBeGreaterThanOrEqual(1);
    await A.engine.sweep(); // a second sweeper finds nothing more to do for it
    const ev = await k1Events();
    expect(ev).toHaveLength(1);
    expect(ev[0]!.cdr).toMatchObject({ chargeFen: '10', durationMs: 10_000, disconnectSide: 'system', result: 'answered' });
    expect(await available(A.redis, t.id)).toBe(990n);
    // the restarted instance reports the call's end late: nothing charged again
    const again = await A.engine.finish(facts('k1', t.id, ans, ans, ans + 9000));
    expect(again.duplicate).toBe(true);
    expect(await A.redis.zscore(keys.leases(keys.shardOfTenant(t.id)), 'k1')).toBeNull();
  });

  it('a bad call hash (corrupt or missing fields) does not stop the sweep: the good call of its shard is reclaimed, the bad ones are set aside', async () => {
    const t = await tenant(1000n);
    const shard = keys.shardOfTenant(t.id);
    const dead = await startInstance(TEST_REDIS_URL, prefix, db.pool, clock, 'dead2');
    // the bad calls come first in the shard's lease order (answered earlier), the good one last
    const ids = ['bad-rate', 'bad-granted', 'bad-held', 'bad-tenant', 'good'];
    for (const id of ids) {
      await dead.engine.authorize(req(id, t.id));
      await dead.engine.answered(id, clock.now(), () => undefined);
      await clock.advance(10, settle);
    }
    await stopInstance(dead);
    await A.redis.hdel(keys.call(shard, 'bad-rate'), 'rate');
    await A.redis.hset(keys.call(shard, 'bad-granted'), 'granted', 'lots');
    await A.redis.hdel(keys.call(shard, 'bad-held'), 'held'); // settle.lua itself fails on it (a script error)
    await A.redis.hset(keys.call(shard, 'bad-tenant'), 'tenant', String(BigInt(t.id) + 1n)); // another shard's tenant
    const before = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await A.redis.hgetall(keys.call(shard, id))] as const)));
    await clock.advance(20_000, settle); // past grant (10 s) + grace (5 s) of every call

    await B.engine.sweep();
    const events = async (id: string) => (await outbox(A.redis)).filter((e) => e.eventId === `call:${id}`);
    expect(await events('good')).toHaveLength(1);
    expect((await events('good'))[0]!.cdr).toMatchObject({ chargeFen: '10', disconnectSide: 'system', result: 'answered' });
    expect(await A.redis.exists(keys.call(shard, 'good'))).toBe(0);
    for (const id of ids.slice(0, -1)) {
      expect(await events(id), id).toEqual([]);
      // kept as it was (holds included) for the operator; its lease moved an hour on, out of the sweep's window
      expect(await A.redis.hgetall(keys.call(shard, id)), id).toEqual(before[id]);
      expect(Number(await A.redis.zscore(keys.leases(shard), id)), id).toBeGreaterThan(clock.now() + 3_000_000);
    }
    // 4 × 10 fen still held by the set-aside calls, the good one charged 10 and gave nothing back: 1000 - 50
    expect(await available(A.redis, t.id)).toBe(950n);
    await B.engine.sweep(); // nothing more is taken from them while set aside
    for (const id of ids.slice(0, -1)) expect(await events(id), id).toEqual([]);
  });

  it('a reservation whose authorize reply was lost (the app refused the call and recorded it) is given back by the sweeper, nothing charged', async () => {
    // as after a failed master or link: the script ran, the app saw store_down and recorded a rejected CDR
    const t = await tenant(1000n);
    expect(await A.engine.authorize(req('lost1', t.id))).toMatchObject({ ok: true });
    expect(await available(A.redis, t.id)).toBe(990n);
    const at = clock.now();
    await B.engine.recordRejected({ ...facts('lost1', t.id, at, null, at), result: 'rejected', sipStatus: 503, rejectReason: 'store_down' });
    await clock.advance((300 + 5 + 1) * 1000, settle); // the pending lease (300 s) + grace
    await B.engine.sweep();
    const shard = keys.shardOfTenant(t.id);
    expect(await available(A.redis, t.id)).toBe(1000n);
    expect(await A.redis.exists(keys.call(shard, 'lost1'))).toBe(0);
    expect(await A.redis.zscore(keys.leases(shard), 'lost1')).toBeNull();
    expect(await A.redis.sismember(keys.calls(t.id), 'lost1')).toBe(0);
    const ev = (await outbox(A.redis)).filter((e) => e.eventId === 'call:lost1');
    expect(ev).toHaveLength(1); // the rejected CDR only
    expect(ev[0]).toMatchObject({ type: 'call.rejected', debits: [], cdr: { chargeFen: '0' } });
  });

  it('rejected calls are recorded once', async () => {
    const f = { ...facts('rej1', '1', clock.now(), null, clock.now()), result: 'rejected' as const, sipStatus: 403, rejectReason: 'caller_id' };
    await A.engine.recordRejected(f);
    await B.engine.recordRejected(f);
    const ev = (await outbox(A.redis)).filter((e) => e.eventId === 'call:rej1');
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ type: 'call.rejected', debits: [], cdr: { chargeFen: '0', rejectReason: 'caller_id', rate: null } });
  });

  it('user text in the CDR (caller, callee, Call-IDs that look like JSON or the charge placeholder) never breaks the event', async () => {
    const { isBucketEvent, parseOutboxEvent } = await import('../../src/outbox/event.js');
    const t = await tenant(100n);
    const hostile = ['__CHARGE__', '"__CHARGE__"', '","chargeFen":"0', '\\"}]}', '%1%d%%', 'é中\u2028\t'];
    for (const [i, text] of hostile.entries()) {
      const base = facts(`inj${i}`, t.id, clock.now(), null, clock.now());
      // unreserved path (record.lua)
      await A.engine.recordRejected({ ...base, aCallId: text, caller: text, callee: text, result: 'rejected', sipStatus: 403, rejectReason: 'caller_id', disconnectReason: text });
    }
    // the calls' events are in their tenant's shard (recordRejected with a tenant)
    const raws = (await A.redis.xrange(keys.outbox(keys.shardOfTenant(t.id)), '-', '+')).map(([, f]) => f[1]!).filter((r) => r.includes('"call:inj'));
    expect(raws).toHaveLength(hostile.length);
    for (const raw of raws) {
      const p = parseOutboxEvent(raw);
      expect(p.ok, raw).toBe(true);
      if (!p.ok || isBucketEvent(p.event)) continue;
      const i = Number(/^inj(\d+)$/.exec(p.event.cdr.callId)![1]);
      expect(p.event.cdr).toMatchObject({ caller: hostile[i], callee: hostile[i], aCallId: hostile[i], chargeFen: '0' });
      expect(p.event.cdr.disconnectReason).toBe(hostile[i]!.replace(/\t/g, ' ').trim()); // free text: control characters cleaned
      expect(p.event.debits).toEqual([]);
    }
    // settle path (settle.lua): an answered call with hostile text is charged and its event parses
    const g = await A.engine.authorize(req('inj-settle', t.id));
    expect(g.ok).toBe(true);
    const answerAt = clock.now();
    await A.engine.answered('inj-settle', answerAt, () => undefined);
    await clock.advance(5000, settle);
    const r = await A.engine.finish({ ...facts('inj-settle', t.id, answerAt, answerAt, clock.now()), aCallId: '__CHARGE__', caller: '"}', callee: '__CHARGE__' });
    expect(r.chargeFen).toBeGreaterThan(0n);
    const raw = (await A.redis.xrange(keys.outbox(keys.shardOfTenant(t.id)), '-', '+')).map(([, f]) => f[1]!).find((x) => x.includes('"call:inj-settle"'))!;
    const p = parseOutboxEvent(raw);
    expect(p.ok, raw).toBe(true);
    if (p.ok && !isBucketEvent(p.event)) {
      expect(p.event.cdr).toMatchObject({ aCallId: '__CHARGE__', caller: '"}', callee: '__CHARGE__', chargeFen: r.chargeFen.toString() });
      expect(p.event.debits).toEqual([{ bucketId: t.bucket, amountFen: r.chargeFen }]);
    }
  });

  it('consumption order: earliest expiry first, then never-expiring credit', async () => {
    const id = await createTenant(db.pool, `t${++n}`, plan);
    const paid = await createBucket(db.pool, id, 'paid', 100n);
    const gift = await createBucket(db.pool, id, 'gift', 7n, new Date(0), new Date(T0 + 30 * 86_400_000));
    await A.engine.authorize(req('o1', id));
    const ans = clock.now();
    await A.engine.answered('o1', ans, () => undefined);
    await clock.advance(9000, settle);
    await A.engine.finish(facts('o1', id, ans, ans, ans + 9000));
    const ev = (await outbox(A.redis)).find((e) => e.eventId === 'call:o1')!;
    expect(ev.debits).toEqual([{ bucketId: gift.bucketId, amountFen: '7' }, { bucketId: paid.bucketId, amountFen: '2' }]);
  });

  it('buckets of an idle tenant expire on time through the sweeper (no call needed)', async () => {
    const id = await createTenant(db.pool, `t${++n}`, plan);
    const gift = await createBucket(db.pool, id, 'gift', 40n, new Date(0), new Date(clock.now() + 1000));
    const later = await createBucket(db.pool, id, 'gift', 30n, new Date(0), new Date(clock.now() + 86_400_000));
    await loadTenant(db.pool, A.redis, id);
    expect(await A.redis.zscore(keys.expiries(keys.shardOfTenant(id)), id)).toBe(String(clock.now() + 1000));
    await clock.advance(2000, settle);
    await B.engine.sweep();
    const ev = (await outbox(A.redis)).filter((e) => e.type === 'bucket.expired' && e.tenantId === id);
    expect(ev).toEqual([expect.objectContaining({ eventId: `expire:${gift.bucketId}:1`, bucketId: gift.bucketId, amountFen: '40' })]);
    expect(await A.redis.hget(keys.buckets(id), gift.bucketId)).toBe('0');
    expect(await A.redis.hget(keys.buckets(id), later.bucketId)).toBe('30');
    expect(await A.redis.zscore(keys.expiries(keys.shardOfTenant(id)), id)).toBe(String(clock.now() - 2000 + 86_400_000));
  });

  it('an expired bucket is cleared into the outbox and cannot pay', async () => {
    const id = await createTenant(db.pool, `t${++n}`, plan);
    const gift = await createBucket(db.pool, id, 'gift', 50n, new Date(0), new Date(T0 - 1));
    expect(await A.engine.authorize(req('e1', id))).toMatchObject({ ok: false, reason: 'no_balance' });
    const ev = (await outbox(A.redis)).filter((e) => e.type === 'bucket.expired' && e.bucketId === gift.bucketId);
    expect(ev).toEqual([expect.objectContaining({ eventId: `expire:${gift.bucketId}:1`, tenantId: id, amountFen: '50' })]);
  });
});


describe('store metrics of the charging engine (manual clock)', () => {
  /** Samples of softswitch_store_command_duration_seconds (count) or softswitch_store_errors_total for one op. */
  async function count(op: string, kind: 'latency' | 'errors'): Promise<number> {
    if (kind === 'errors') return (await metrics.storeErrors.get()).values.find((v) => v.labels.op === op && v.labels.store === 'redis')?.value ?? 0;
    return (await metrics.storeLatency.get()).values.find((v) => v.metricName === 'softswitch_store_command_duration_seconds_count' && v.labels.op === op)?.value ?? 0;
  }

  it('every charging Redis script is timed under its op name', async () => {
    const ops = ['charging_authorize', 'charging_answer', 'charging_extend', 'charging_settle', 'charging_record', 'charging_credit'];
    const before = await Promise.all(ops.map((op) => count(op, 'latency')));
    const t = await tenant(100n);
    await A.engine.authorize(req('mx1', t.id));
    const ans = clock.now();
    await A.engine.answered('mx1', ans, () => undefined);
    await clock.advance(9000, settle); // one slice request
    await applyCredit(A.redis, { tenantId: t.id, bucketId: t.bucket, kind: 'paid', amountFen: 5n, validFrom: new Date(0), expiresAt: null, transferId: 'metrics-mx1' });
    await A.engine.finish(facts('mx1', t.id, ans, ans, clock.now()));
    await A.engine.recordRejected({ ...facts('mx2', t.id, clock.now(), null, clock.now()), result: 'rejected', sipStatus: 403, rejectReason: 'caller_id' });
    const after = await Promise.all(ops.map((op) => count(op, 'latency')));
    for (const [i, op] of ops.entries()) expect(after[i]! - before[i]!, op).toBeGreaterThanOrEqual(1);
  });

  it('a Redis failure is counted in softswitch_store_errors_total with the op name', async () => {
    const port = await freePort(); // nothing listens there
    const redis = testChargingRedis(prefix, {}, { retryStrategy: () => null }, `redis://127.0.0.1:${port}`);
    const engine = createChargingEngine({ redis, pool: db.pool, config: testConfig(), logger: silent, instanceId: 'down', clock, sweepIntervalMs: 0 });
    const before = await count('charging_plan', 'errors');
    await eventually('the connection attempt failed', () => redis.status === 'end'); // retryStrategy null: no reconnect
    // the first Redis command of an authorization reads the tenant's rate plan id
    expect(await engine.authorize({ ...req('mx3', '1'), failurePolicy: 'terminate' })).toMatchObject({ ok: false, reason: 'store_down' });
    expect(await count('charging_plan', 'errors')).toBe(before + 1);
    await engine.close();
    redis.disconnect();
  });
});
