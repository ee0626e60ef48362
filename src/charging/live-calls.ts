/**
 * The state one charging engine shares between its modules (authorize, metering, settlement, sweeper): the calls
 * this instance meters, the settlements waiting for Redis, the background work in flight, and whether the engine is
 * closed; plus the context every module is built with. Nothing here talks to Redis.
 *
 * Invariants:
 * - a call is in `live` from its grant (authorize) until its settlement was taken by Redis or queued in `retries`;
 *   a call of `live` or `retries` is this instance's to settle, and the sweeper leaves it alone;
 * - `retries` holds at most one pending settlement per call id (a newer one replaces the older; each is idempotent);
 * - once `closed`, no timer is armed again and no new background work starts.
 */
import type { AppliedRate } from '../cdr/types.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import type { Clock } from './clock.js';
import type { KeyLayout } from './keys.js';
import type { ChargingRedis } from './redis.js';
import type { LowCreditWarning } from './types.js';

/** Retry period of a settlement or slice request that failed because Redis was unreachable. */
export const RETRY_MS = 1000;

export interface LiveCall {
  callId: string;
  tenantId: string;
  rate: AppliedRate;
  reserved: boolean; // false: admitted without Redis under the 'continue' policy
  granted: number; // seconds from answer
  final: boolean; // the last slice request got less than asked: wait for a credit before asking again
  short: boolean; // the last grant was less than a full slice (fair share of a short balance): ask again soon
  answerAt: number | null;
  onExhausted: ((cutAtMs: number) => void) | null;
  exhausted: boolean;
  cancelExtend: (() => void) | null;
  cancelCut: (() => void) | null;
  warning: LowCreditWarning | null;
  /** seconds from answer the tenant's available balance could carry this call at most, when the last slice request
   * found it short (of the next slice, or of a warned call's look-ahead); null = not known to be short */
  horizon: number | null;
  /** cut time (epoch ms) the warning was given for: not again for the same or an earlier one */
  warnedFor: number | null;
  cancelWarn: (() => void) | null;
  extending: boolean;
  /** resolves when the slice request in flight (if any) has been applied: finish waits for it, as it may shrink the grant */
  extendDone: Promise<void> | null;
  /** a slice request failed after it may have reached Redis: the grant there may differ, finish re-reads it */
  uncertain: boolean;
  creditDuringExtend: boolean; // a credit arrived while a slice request was in flight: ask again after it
  readonly log: Logger;
}

/** What every module of the engine is built with. */
export interface EngineContext {
  readonly redis: ChargingRedis;
  readonly k: KeyLayout;
  readonly clock: Clock;
  readonly config: Config;
  readonly cfg: Config['charging'];
  readonly graceMs: number;
  readonly instanceId: string;
  /** the engine's logger */
  readonly log: Logger;
  /** the root logger, parent of the per-call loggers */
  readonly logger: Logger;
}

/** The live-calls state of one engine (one instance per engine, passed to each module). */
export class LiveCalls {
  /** calls this instance meters, by call id */
  readonly live = new Map<string, LiveCall>();
  /** settlements and records waiting for Redis, by call id; replayed every RETRY_MS (each is idempotent) */
  readonly retries = new Map<string, () => Promise<void>>();
  /** background work (slice requests, retries, sweeps), so idle() can wait for it */
  private readonly inflight = new Set<Promise<unknown>>();
  closed = false;

  track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Resolves when no background work is in flight. */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** A call granted now, registered as live. */
  open(ctx: EngineContext, callId: string, tenantId: string, rate: AppliedRate, reserved: boolean, granted: number): LiveCall {
    const c: LiveCall = {
      callId, tenantId, rate, reserved, granted, final: false, short: granted < Math.min(ctx.cfg.sliceSeconds, ctx.cfg.maxCallSeconds), answerAt: null,
      onExhausted: null, exhausted: false, cancelExtend: null, cancelCut: null, warning: null, horizon: null, warnedFor: null, cancelWarn: null,
      extending: false, extendDone: null, uncertain: false, creditDuringExtend: false,
      // the per-call child logger is made on first use: most calls never log
      get log() {
        const l = ctx.logger.child({ callId, tenant: tenantId });
        Object.defineProperty(this, 'log', { value: l });
        return l;
      },
    };
    this.live.set(callId, c);
    return c;
  }
}

/** Cancel the local timers of a call (extend, cut, warning); safe to call twice. */
export function stopTimers(c: LiveCall): void {
  c.cancelExtend?.();
  c.cancelCut?.();
  c.cancelWarn?.();
  c.cancelExtend = c.cancelCut = c.cancelWarn = null;
}
