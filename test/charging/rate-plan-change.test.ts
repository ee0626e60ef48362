/**
 * A tenant's rate plan changed by the operator operation (changeRatePlan of the service layer, what
 * `softswitch tenant rate-plan` and PUT /v1/tenants/{t}/rate-plan call: PostgreSQL, audit, then Redis) while two
 * engine instances keep authorizing, answering and settling its calls: real concurrency on separate Redis connections, the real clock, the real outbox consumer and ledger.
 * Every call is rated by exactly one of the two plans — never a mix — and consistently so in the authorization,
 * the CDR row and the ledger; every call authorized after the change was acknowledged uses the new plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { loadTenant } from '../../src/charging/tenant-sync.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { rerate } from '../../src/rating/charge.js';
import { changeRatePlan } from '../../src/services/tenants.js';
import { getTenant } from '../../src/tenants/tenants.js';
import type { AppliedRate } from '../../src/cdr/types.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { eventually } from '../helpers/poll.js';
import { SYSTEM, testServices } from '../helpers/services.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { facts, silent, testConfig } from './setup.js';

let db: TestDb;
const prefix = testPrefix();
const conns: ChargingRedis[] = [];
const engines: Engine[] = [];
let outbox: OutboxConsumer;
let planA = '';
let planB = '';
let tenantId = '';
const BALANCE_FEN = 1_000_000n;

beforeAll(async () => {
  db = await createTestDb();
  // A: 0.6 CNY/min per second; B: 1.2 CNY/min in 6 s steps with a 0.05 connect fee (every call's plan shows in its charge)
  planA = await createPlan(db.pool, 'plan-a', [{ prefix: '86', price: '0.6' }]);
  planB = await createPlan(db.pool, 'plan-b', [{ prefix: '86', price: '1.2', init: 6, sub: 6, connectFee: '0.05' }]);
  tenantId = await createTenant(db.pool, 'replan', planA);
  await createBucket(db.pool, tenantId, 'paid', BALANCE_FEN);
  for (const id of ['rp-1', 'rp-2']) {
    const redis = testChargingRedis(prefix);
    await waitReady(redis);
    conns.push(redis);
    engines.push(createChargingEngine({ redis, pool: db.pool, config: testConfig(), logger: silent, instanceId: id, sweepIntervalMs: 0 }));
  }
  await loadTenant(db.pool, conns[0]!, tenantId);
  outbox = createOutboxConsumer({ redis: conns[0]!, pool: db.pool, logger: silent, instanceId: 'rp-outbox', options: { blockMs: 100 } });
  outbox.start();
});

afterAll(async () => {
  await outbox?.stop();
  for (const e of engines) await e.close();
  for (const r of conns) r.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

interface Placed { callId: string; startedAt: number; rate: AppliedRate; chargeFen: bigint }

describe('rate plan change while calls authorize (two engines, real clock)', () => {
  it('each call is rated by exactly one plan, the same in its authorization, CDR and ledger; calls after the change use the new plan', async () => {
    const placed: Placed[] = [];
    let changedAt: number | null = null; // when the change was acknowledged (PostgreSQL committed, Redis written)
    let seq = 0;

    // each engine places calls back to back (2 s of talk each) until 5 more have started after the change
    const loop = async (engine: Engine, name: string): Promise<void> => {
      let afterChange = 0;
      while (afterChange < 5) {
        const callId = `${name}-${++seq}`;
        const startedAt = Date.now();
        if (changedAt !== null && startedAt > changedAt) afterChange++;
        const a = await engine.authorize({ callId, tenantId, calledNumber: '8613800138000', at: startedAt, failurePolicy: 'terminate' });
        if (!a.ok) throw new Error(`${callId} refused: ${a.reason} ${a.detail}`);
        const answerAt = Date.now();
        await engine.answered(callId, answerAt, () => undefined);
        const r = await engine.finish(facts(callId, tenantId, startedAt, answerAt, answerAt + 2000));
        expect(r.cdr.rate).toEqual(a.rate); // the CDR carries the rate the call was authorized with
        placed.push({ callId, startedAt, rate: a.rate, chargeFen: r.chargeFen });
      }
    };
    const change = async (): Promise<void> => {
      await eventually('calls on both engines', () => placed.filter((p) => p.callId.startsWith('e1')).length >= 5 && placed.filter((p) => p.callId.startsWith('e2')).length >= 5);
      const r = await changeRatePlan(testServices(db.pool, { redis: conns[1]! }), SYSTEM, BigInt(tenantId), 'plan-b');
      expect([r.before, r.after, r.redis]).toEqual(['plan-a', 'plan-b', 'applied']);
      changedAt = Date.now();
    };
    await Promise.all([loop(engines[0]!, 'e1'), loop(engines[1]!, 'e2'), change()]);
    expect((await getTenant(db.pool, tenantId)).ratePlanId?.toString()).toBe(planB);

    // one plan per call, whole: its id, price, increments and connect fee together
    const A = { ratePlanId: planA, pricePerMinute: '0.6', initialIncrement: 1, subsequentIncrement: 1, connectFee: '0' };
    const B = { ratePlanId: planB, pricePerMinute: '1.2', initialIncrement: 6, subsequentIncrement: 6, connectFee: '0.05' };
    for (const p of placed) {
      const asA = Object.entries(A).every(([k, v]) => p.rate[k as keyof AppliedRate] === v);
      const asB = Object.entries(B).every(([k, v]) => p.rate[k as keyof AppliedRate] === v);
      expect(asA !== asB, `${p.callId}: ${JSON.stringify(p.rate)}`).toBe(true);
      expect(p.chargeFen, p.callId).toBe(asA ? 2n : 17n); // 2 s: 2 × 1 fen; or 5 fen + one 6 s step at 2 fen/s
    }
    expect(placed.filter((p) => p.rate.ratePlanId === planA).length).toBeGreaterThanOrEqual(10);
    const after = placed.filter((p) => p.startedAt > changedAt!);
    expect(after.length).toBeGreaterThanOrEqual(10);
    for (const p of after) expect(p.rate.ratePlanId, p.callId).toBe(planB);

    // the CDR rows and the ledger say the same, call by call
    const ids = placed.map((p) => p.callId);
    const rows = await eventually('every CDR and charge written', async () => {
      const r = await db.pool.query<{ call_id: string; rate_plan_id: bigint; price_per_minute: string; connect_fee: string; charge_fen: bigint; duration_ms: bigint; ledger: string | null }>(
        `select c.call_id, c.rate_plan_id, c.price_per_minute::text, c.connect_fee::text, c.charge_fen, c.duration_ms,
                (select sum(amount_fen)::text from ledger_transfers l where l.call_id = c.call_id and l.kind = 'call_charge') as ledger
           from cdrs c where c.call_id = any($1)`, [ids]);
      return r.rows.length === ids.length && r.rows.every((x) => x.ledger !== null) ? r.rows : null;
    }, 30_000);
    const byId = new Map(placed.map((p) => [p.callId, p]));
    for (const row of rows) {
      const p = byId.get(row.call_id)!;
      expect(row.rate_plan_id.toString(), row.call_id).toBe(p.rate.ratePlanId);
      expect(new Decimal(row.price_per_minute).eq(p.rate.pricePerMinute), row.call_id).toBe(true);
      expect(new Decimal(row.connect_fee).eq(p.rate.connectFee), row.call_id).toBe(true);
      expect(row.charge_fen, row.call_id).toBe(p.chargeFen);
      expect(BigInt(row.ledger!), row.call_id).toBe(p.chargeFen);
      expect(rerate({ rate: p.rate, durationMs: Number(row.duration_ms) }).chargeFen, row.call_id).toBe(p.chargeFen);
    }
    const total = placed.reduce((s, p) => s + p.chargeFen, 0n);
    const bal = await db.pool.query<{ s: string }>(
      `select coalesce(sum(credits_posted - debits_posted), 0)::text as s from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId]);
    expect(BigInt(bal.rows[0]!.s)).toBe(BALANCE_FEN - total);
  });
});
