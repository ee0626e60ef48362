/**
 * Shared by the Redis failover tests (master-failover.test.ts on a Redis Cluster, sentinel-failover.test.ts on
 * Sentinel): charging engine instances on a manual clock (call timing) over a real Redis topology whose failover runs
 * in real time, a call driver that authorizes, answers, meters and ends calls the way the SIP layer does (a refused
 * call gets its rejected CDR, a cut call ends at its cut), the real outbox consumer writing CDRs and ledger postings
 * into PostgreSQL, and the end-of-test books: no overdraft, every call with exactly one CDR, Redis = ledger.
 */
import { expect } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { metrics } from '../../src/observability/metrics.js';
import type { Pool } from '../../src/db/pool.js';
import type { Config } from '../../src/config/config.js';
import { eventually } from '../helpers/poll.js';
import { ManualClock } from '../charging/manual-clock.js';
import { facts, silent, startInstanceOn, stopInstance, type Instance } from '../charging/setup.js';

export const T0 = Date.UTC(2026, 5, 1);

/** Sum of softswitch_redis_unreplicated_steps_total over its steps (this process). */
export async function unreplicatedSteps(): Promise<number> {
  return (await metrics.redisUnreplicatedSteps.get()).values.reduce((s, v) => s + v.value, 0);
}

export interface CallState {
  callId: string;
  tenantId: string;
  owner: Instance;
  answerAt: number | null;
  /** the grant the engine acted on, seconds from answer (as acknowledged by Redis) */
  granted: () => number;
  ended: boolean;
  /** what finish() answered the app */
  settled: { chargeFen: bigint; billableSeconds: number } | null;
  /** finish() answered after Redis took the settlement (its done marker holds that charge); false: the engine
   * deferred it (Redis unreachable) and answered provisionally, the replay bills what Redis holds */
  confirmed: boolean;
  refused: string | null;
}

export class Calls {
  readonly all = new Map<string, CallState>();
  private readonly ops = new Set<Promise<unknown>>();
  readonly errors: unknown[] = [];

  constructor(readonly clock: ManualClock, readonly instances: Instance[]) {}

  track<T>(p: Promise<T>): Promise<T> {
    this.ops.add(p);
    void p.finally(() => this.ops.delete(p)).catch(() => undefined);
    return p;
  }

  /** Every call operation and every engine's background work done. */
  async settle(): Promise<void> {
    do {
      await Promise.allSettled([...this.ops]);
      await Promise.all(this.instances.map((x) => x.engine.idle()));
    } while (this.ops.size);
  }

  /** Move the manual clock, letting each timer's Redis work finish. */
  async pump(ms: number): Promise<void> {
    await this.clock.advance(ms, () => this.settle());
  }

  /** Authorize (and, unless told otherwise, answer at once); a refused call gets its rejected CDR as the SIP layer does. */
  async start(callId: string, tenantId: string, owner: Instance, opts: { answer?: boolean } = {}): Promise<CallState> {
    const e = owner.engine;
    const c: CallState = { callId, tenantId, owner, answerAt: null, granted: () => 0, ended: false, settled: null, confirmed: false, refused: null };
    this.all.set(callId, c);
    const at = this.clock.now();
    const a = await e.authorize({ callId, tenantId, calledNumber: '8613800138000', at, failurePolicy: 'terminate' });
    if (!a.ok) {
      c.refused = a.reason;
      c.ended = true;
      await e.recordRejected({ ...facts(callId, tenantId, at, null, at), result: 'rejected', sipStatus: a.reason === 'store_down' ? 503 : 403, rejectReason: a.reason });
      return c;
    }
    if (opts.answer === false) return c;
    const answerAt = this.clock.now();
    c.answerAt = answerAt;
    // cut at grant end: the caller's BYE comes 200 ms later
    const m = await e.answered(callId, answerAt, (cutAt) => this.clock.at(cutAt + 200, () => void this.track(this.end(callId))));
    c.granted = () => (m.grantedUntil - answerAt) / 1000;
    return c;
  }

  /** The call ends now (BYE); resolves with what the engine answered. */
  async end(callId: string): Promise<void> {
    const c = this.all.get(callId)!;
    if (c.ended) return;
    c.ended = true;
    const at = this.clock.now();
    try {
      const r = await c.owner.engine.finish(facts(callId, c.tenantId, c.answerAt ?? at, c.answerAt, at));
      c.settled = { chargeFen: r.chargeFen, billableSeconds: r.billableSeconds };
      const k = c.owner.redis.layout;
      const done = await c.owner.redis.get(k.done(k.shardOfTenant(c.tenantId), callId)).catch(() => null);
      c.confirmed = done !== null && done.startsWith(`${r.chargeFen}|`);
    } catch (e) {
      this.errors.push(e);
    }
  }
}

export async function startInstances(connect: () => ChargingRedis, pool: Pool, clock: ManualClock, n: number, config: Config): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let i = 0; i < n; i++) out.push(await startInstanceOn(connect(), pool, clock, `fo-${i}`, config));
  return out;
}

export function startConsumer(redis: ChargingRedis, pool: Pool): OutboxConsumer {
  const c = createOutboxConsumer({ redis, pool, logger: silent, instanceId: 'fo-writer', options: { blockMs: 200, pollMs: 50, claimIdleMs: 2000 } });
  c.start();
  return c;
}

/**
 * The books once everything has ended: the outbox drained into PostgreSQL, then per tenant: no bucket below 0 in
 * Redis or the ledger, every call with exactly one CDR (and the CDR charge is what the engine answered the app, for
 * every settlement it acknowledged), debits + remaining = credits, no call state, lease or live-set entry left in
 * Redis, and `reconcile` finds no drift.
 */
export async function checkBooks(o: { pool: Pool; redis: ChargingRedis; consumer: OutboxConsumer; calls: Calls; credits: Map<string, bigint> }): Promise<{ cdrs: number; chargedFen: bigint }> {
  const { pool, redis, calls } = o;
  const k = redis.layout;
  expect(calls.errors).toEqual([]);
  for (const x of calls.instances) expect(x.engine.pendingSettlements()).toBe(0);
  await eventually('outbox drained into PostgreSQL', async () => (await o.consumer.stats()).backlog === 0, 60_000);
  const ids = [...calls.all.keys()];
  const rows = (await pool.query<{ call_id: string; n: string; charge: string; tenant_id: string }>(
    `select call_id, count(*)::text as n, sum(charge_fen)::text as charge, min(tenant_id)::text as tenant_id from cdrs where call_id = any($1) group by call_id`, [ids])).rows;
  const byId = new Map(rows.map((r) => [r.call_id, r]));
  const missing = ids.filter((id) => !byId.has(id));
  const twice = rows.filter((r) => r.n !== '1').map((r) => `${r.call_id}×${r.n}`);
  expect(missing).toEqual([]);
  expect(twice).toEqual([]);
  // every settlement the app was told of (confirmed by Redis) is the one in the books
  const differ: string[] = [];
  for (const c of calls.all.values()) {
    if (c.settled && c.confirmed && BigInt(byId.get(c.callId)!.charge) !== c.settled.chargeFen) differ.push(`${c.callId}: app ${c.settled.chargeFen}, CDR ${byId.get(c.callId)!.charge}`);
  }
  expect(differ).toEqual([]);
  let chargedFen = 0n;
  for (const [tenantId, credit] of o.credits) {
    const charged = rows.filter((r) => r.tenant_id === tenantId).reduce((s, r) => s + BigInt(r.charge), 0n);
    chargedFen += charged;
    const posted = (await pool.query<{ s: string }>(
      `select coalesce(sum(amount_fen), 0)::text as s from ledger_transfers where tenant_id = $1 and kind = 'call_charge'`, [tenantId])).rows[0]!;
    expect(BigInt(posted.s), `tenant ${tenantId} ledger charges`).toBe(charged);
    const left = (await pool.query<{ s: string; m: string }>(
      `select coalesce(sum(credits_posted - debits_posted), 0)::text as s, coalesce(min(credits_posted - debits_posted), 0)::text as m
         from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId])).rows[0]!;
    expect(BigInt(left.s), `tenant ${tenantId} ledger balance`).toBe(credit - charged);
    expect(BigInt(left.m)).toBeGreaterThanOrEqual(0n);
    const buckets = Object.values(await redis.hgetall(k.buckets(tenantId))).map(BigInt);
    expect(buckets.every((v) => v >= 0n)).toBe(true);
    expect(buckets.reduce((s, v) => s + v, 0n), `tenant ${tenantId} Redis available`).toBe(credit - charged);
    expect(await redis.scard(k.calls(tenantId)), `tenant ${tenantId} live set`).toBe(0);
    const shard = k.shardOfTenant(tenantId);
    const leftover = (await Promise.all(ids.filter((id) => calls.all.get(id)!.tenantId === tenantId).map(async (id) =>
      (await redis.exists(k.call(shard, id))) || (await redis.zscore(k.leases(shard), id)) !== null ? id : null))).filter(Boolean);
    expect(leftover, `tenant ${tenantId}: call state or lease left in Redis`).toEqual([]);
  }
  const report = await reconcile({ pool, redis, repair: false });
  expect(report.driftTenants).toBe(0);
  expect(report.ledgerInconsistent).toEqual([]);
  expect(report.outbox.deadLetters).toBe(0);
  return { cdrs: rows.length, chargedFen };
}

export async function stopAll(instances: Instance[], consumer: OutboxConsumer | undefined): Promise<void> {
  await consumer?.stop();
  for (const x of instances) await stopInstance(x);
}
