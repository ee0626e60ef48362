/** Shared set-up of the engine tests: a migrated database, a Redis prefix, engines on a manual clock. */
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/util/logger.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import type { Pool } from '../../src/db/pool.js';
import type { CallFacts } from '../../src/cdr/types.js';
import { testChargingRedis } from '../helpers/redis.js';
import type { ManualClock } from './manual-clock.js';

export const silent = createLogger('silent');

export function testConfig(over: Record<string, unknown> = {}): Config {
  return loadConfig({}, { 'charging.sliceSeconds': 10, 'charging.leaseGraceSeconds': 5, ...over });
}

export interface Instance { engine: Engine; redis: ChargingRedis; id: string }

/** An engine instance with its own Redis connection (several instances in one process = several app servers). */
export async function startInstance(url: string, prefix: string, pool: Pool, clock: ManualClock, id: string, config = testConfig()): Promise<Instance> {
  return startInstanceOn(testChargingRedis(prefix, {}, {}, url), pool, clock, id, config);
}

/** An engine instance on a connection of any topology (standalone, Sentinel, Cluster). */
export async function startInstanceOn(redis: ChargingRedis, pool: Pool, clock: ManualClock, id: string, config = testConfig()): Promise<Instance> {
  await waitReady(redis, 15_000);
  const engine = createChargingEngine({ redis, pool, config, logger: silent, instanceId: id, clock, sweepIntervalMs: 0 });
  return { engine, redis, id };
}

export async function stopInstance(i: Instance): Promise<void> {
  await i.engine.close();
  i.redis.disconnect();
}

export function facts(callId: string, tenantId: string, inviteAt: number, answerAt: number | null, endAt: number): CallFacts {
  return {
    callId, aCallId: `a-${callId}`, bCallId: answerAt ? `b-${callId}` : null, tenantId, caller: '+8657112345678', callee: '8613800138000',
    ingressTrunk: 'alibaba', gateway: 'carrier1', inviteAt, ringAt: null, answerAt, endAt, sipStatus: answerAt ? 200 : 487,
    result: answerAt ? 'answered' : 'canceled', rejectReason: null, disconnectSide: 'caller', disconnectReason: 'caller BYE',
  };
}

export interface OutboxEvent {
  eventId: string; type: string; at: number; tenantId?: string; bucketId?: string; amountFen?: string;
  cdr?: import('../../src/cdr/types.js').CdrRecord; debits?: { bucketId: string; amountFen: string }[];
}

export async function outbox(redis: ChargingRedis): Promise<OutboxEvent[]> {
  // every shard's stream, in the order Redis appended the entries (stream ids are append times)
  const k = redis.layout;
  const rows = (await Promise.all(k.all().map((s) => redis.xrange(k.outbox(s), '-', '+')))).flat();
  rows.sort(([a], [b]) => { const [am, as] = a.split('-').map(Number); const [bm, bs] = b.split('-').map(Number); return am! - bm! || as! - bs!; });
  return rows.map(([, f]) => JSON.parse(f[1]!) as OutboxEvent);
}

export async function available(redis: ChargingRedis, tenantId: string): Promise<bigint> {
  const h = await redis.hgetall(redis.layout.buckets(tenantId));
  return Object.values(h).reduce((a, v) => a + BigInt(v), 0n);
}
