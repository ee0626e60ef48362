/**
 * The charging engine: rating + atomic reservation slices in Redis (RFC 4006 style), per-call
 * metering with local timers only, settlement with the outbox event in the same Lua step, a lease sweeper that
 * reclaims calls of dead instances, and the CCFH failure policy. Design and overdraft proof: docs/charging.md.
 *
 * This module composes the engine's parts around one LiveCalls state: authorize.ts, metering.ts, settlement.ts and
 * sweeper.ts (each states the invariants it keeps), and wires the tenant control channel to them.
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import { Authorizer } from './authorize.js';
import { realClock, type Clock } from './clock.js';
import { LiveCalls, stopTimers, type EngineContext } from './live-calls.js';
import { CallMetering } from './metering.js';
import type { ChargingRedis } from './redis.js';
import { Settlement } from './settlement.js';
import { Sweeper } from './sweeper.js';
import { subscribeTenantControl } from './tenant-sync.js';
import type { ChargingEngine } from './types.js';

export interface ChargingEngineDeps {
  redis: ChargingRedis;
  pool: Pool;
  config: Config;
  logger: Logger;
  instanceId: string;
  clock?: Clock;
  /** how often this instance looks for expired leases (ms); 0 = never (tests call sweep()) */
  sweepIntervalMs?: number;
}

export type Engine = ChargingEngine & {
  close(): Promise<void>;
  /** Expire due buckets of idle tenants, then reclaim calls whose lease expired (dead instance) and settle them
   * with their best known duration. Returns the number of calls reclaimed. */
  sweep(): Promise<number>;
  /** Settlements/records waiting for Redis to come back. */
  pendingSettlements(): number;
  /** Resolves when no background charging work is in flight. */
  idle(): Promise<void>;
};

export function createChargingEngine(deps: ChargingEngineDeps): Engine {
  const { redis, config, instanceId } = deps;
  const ctx: EngineContext = {
    redis, k: redis.layout, clock: deps.clock ?? realClock, config, cfg: config.charging, graceMs: config.charging.leaseGraceSeconds * 1000,
    instanceId, log: deps.logger.child({ component: 'charging', instanceId }), logger: deps.logger,
  };
  const state = new LiveCalls();
  const authorizer = new Authorizer(ctx, state, deps.pool);
  const metering = new CallMetering(ctx, state);
  const settlement = new Settlement(ctx, state);
  const sweeper = new Sweeper(ctx, state, settlement);

  let unsubscribe: (() => Promise<void>) | null = null;
  const ready = subscribeTenantControl(redis, (m) => {
    authorizer.forgetPlan(m.tenantId);
    if (m.action === 'credit') metering.credited(m.tenantId);
  }).then((u) => {
    unsubscribe = u;
  }, (e: unknown) => ctx.log.warn({ err: e }, 'control channel subscription failed; credits reach live calls at their next slice only'));

  const every = deps.sweepIntervalMs ?? 5000;
  if (every > 0) sweeper.start(every);

  return {
    authorize: (req) => authorizer.authorize(req),
    answered: (callId, answerAt, onExhausted, warning) => metering.answered(callId, answerAt, onExhausted, warning),
    finish: (facts) => settlement.finish(facts),
    recordRejected: (facts) => settlement.recordRejected(facts),
    sweep: () => sweeper.sweep(),
    pendingSettlements: () => state.retries.size,
    idle: () => state.idle(),
    async close() {
      state.closed = true;
      for (const c of state.live.values()) stopTimers(c);
      settlement.stop();
      sweeper.stop();
      await settlement.flushRetries().catch(() => undefined);
      // still unsettled: reserved calls are reclaimed by another instance's sweeper after their lease; log the ids
      if (state.retries.size) ctx.log.error({ callIds: [...state.retries.keys()] }, 'closing with settlements Redis never took');
      await ready;
      await unsubscribe?.();
    },
  };
}
