/**
 * Metering (engine steps 2-5): the answer (answer.lua), the local timers of a live call (ask for the next slice a
 * little before the grant ends, cut exactly at grant end, the low-credit warning), the slice requests (extend.lua)
 * and credits reaching live calls (a 'credit' control message re-extends the tenant's final calls). Between those
 * steps a call is metered by local timers only. Design: docs/charging.md ("Authorization and metering", "Fair
 * sharing of a short balance").
 *
 * Invariants:
 * - a call is cut at grant end (answer + granted s, to the millisecond) unless a slice or a credit came first, and
 *   onExhausted fires at most once;
 * - the grant this instance acts on is the one Redis last replied (it may shrink: a fair-share give-back keeps
 *   it at least 2 s past the seconds talked when it asked, extend.lua), and never passes the rate's longest exact
 *   grant (asserted: past it the scripts' integer charge would no longer be exact);
 * - an unreserved call (`continue` policy without Redis) is never extended; a closed engine arms no timer;
 * - finish can wait for the slice request in flight (extendDone), so it bills the grant Redis holds.
 *
 * The answer step is one attempt today: Redis unreachable at answer leaves the call its grant (it is cut at its end).
 */
import assert from 'node:assert';
import { timed } from '../observability/metrics.js';
import { maxExactSeconds } from '../rating/charge.js';
import { RETRY_MS, stopTimers, type EngineContext, type LiveCall, type LiveCalls } from './live-calls.js';
import { durably } from './redis.js';
import type { LowCreditWarning, Metering } from './types.js';

/** A call whose last grant was less than a full slice (short balance, fair sharing) asks again within this long,
 * so a call holding more than its share gives the excess back soon (docs/charging.md). */
const SHORT_REASK_MS = 2000;
/** No slice request closer than this to the grant end: the call is then cut at grant end unless a credit comes. */
const MIN_LEAD_MS = 100;
/** A call with a low-credit warning asks for its next slice this long before the warning would be due. */
const WARN_ASK_MS = 2000;

/** Metering of one engine's live calls. */
export class CallMetering {
  constructor(private readonly ctx: EngineContext, private readonly state: LiveCalls) {}

  /** Start metering at answer; onExhausted(cutAtMs) fires once when the call must be cut. */
  async answered(callId: string, answerAt: number, onExhausted: (cutAtMs: number) => void, warning?: LowCreditWarning): Promise<Metering> {
    const c = this.state.live.get(callId);
    if (!c) throw new Error(`answered: call ${callId} was not authorized by this instance`);
    c.answerAt = answerAt;
    c.onExhausted = onExhausted;
    c.warning = warning ?? null;
    if (c.reserved) await this.markAnswered(c, answerAt);
    else c.final = true;
    this.schedule(c);
    return {
      get grantedUntil() {
        return answerAt + c.granted * 1000;
      },
      stop: () => stopTimers(c),
    };
  }

  /** The tenant was credited: its live calls at their final grant ask for more now. */
  credited(tenantId: string): void {
    for (const c of this.state.live.values()) {
      if (c.tenantId !== tenantId || c.answerAt === null || c.exhausted) continue;
      if (c.extending) c.creditDuringExtend = true;
      else if (c.final) this.state.track(this.extend(c));
    }
  }

  /** answer.lua: the lease now runs to answer + grant + grace. */
  private async markAnswered(c: LiveCall, answerAt: number): Promise<void> {
    const { redis, k } = this.ctx;
    try {
      const shard = k.shardOfTenant(c.tenantId);
      const g = await timed('redis', 'charging_answer', () => durably(redis, 'answer', 'chargeAnswer', k.call(shard, c.callId), k.leases(shard), c.callId, answerAt, this.ctx.graceMs));
      if (g < 0) {
        c.log.warn('call was reclaimed before answer; cutting it');
        c.granted = 0;
        c.final = true;
      } else c.granted = g;
    } catch (e) {
      c.log.warn({ err: (e as Error).message }, 'redis unreachable at answer; the call keeps its grant');
    }
  }

  /**
   * Timers of a live call: ask for the next slice a little before the grant ends; cut exactly at grant end.
   * The lead is at most half of what is left of the grant, so a short grant (fair sharing of a short balance) is
   * renewed while it still runs, and a renewal never comes right after the previous one.
   */
  private schedule(c: LiveCall): void {
    const { live } = this.state;
    if (c.answerAt === null || c.exhausted || this.state.closed || !live.has(c.callId)) return; // finished while answering
    stopTimers(c);
    const end = c.answerAt + c.granted * 1000;
    c.cancelCut = this.ctx.clock.at(end, () => {
      if (c.exhausted || !live.has(c.callId)) return;
      c.exhausted = true;
      stopTimers(c);
      c.log.info({ grantedSeconds: c.granted }, 'credit for this call exhausted: cut');
      c.onExhausted?.(end);
    });
    if (!c.final) this.armExtend(c, end);
    this.armWarning(c);
  }

  private armExtend(c: LiveCall, end: number): void {
    const { clock, cfg } = this.ctx;
    const now = clock.now();
    // a warned call asks early enough to learn that its grant is final before the warning is due
    const want = Math.max(Math.min(10, Math.max(1, Math.floor(cfg.sliceSeconds / 4))) * 1000, c.warning ? c.warning.leadMs + WARN_ASK_MS : 0);
    const lead = Math.min(want, Math.floor((end - now) / 2));
    if (lead < MIN_LEAD_MS) c.final = true;
    else c.cancelExtend = clock.at(c.short ? Math.min(end - lead, now + SHORT_REASK_MS) : end - lead, () => this.state.track(this.extend(c)));
  }

  /** The warning: due leadMs before the latest the call can last (its grant when final, else the balance's horizon). */
  private armWarning(c: LiveCall): void {
    const limit = c.final ? c.granted : c.horizon;
    if (!c.warning || limit === null || c.answerAt === null) return;
    const w = c.warning;
    const cutAt = c.answerAt + limit * 1000;
    if (c.warnedFor !== null && cutAt <= c.warnedFor) return;
    const { clock } = this.ctx;
    c.cancelWarn = clock.at(Math.max(clock.now(), cutAt - w.leadMs), () => {
      if (c.exhausted || !this.state.live.has(c.callId)) return;
      c.warnedFor = cutAt;
      c.cancelWarn = null;
      w.onWarning(cutAt);
    });
  }

  private async extend(c: LiveCall): Promise<void> {
    if (c.extending || c.exhausted || !c.reserved || c.answerAt === null || this.state.closed) return;
    c.extending = true;
    c.creditDuringExtend = false;
    let done!: () => void;
    const p = new Promise<void>((r) => (done = r));
    c.extendDone = p;
    try {
      await this.extendOnce(c);
    } finally {
      if (c.extendDone === p) c.extendDone = null; // a follow-up request may already have replaced it
      done();
    }
  }

  private async extendOnce(c: LiveCall): Promise<void> {
    if (c.answerAt === null) return;
    const { redis, k, cfg, clock } = this.ctx;
    const cap = maxExactSeconds(c.rate, cfg.maxCallSeconds);
    const target = Math.min(c.granted + cfg.sliceSeconds, cap);
    try {
      // a warned call also asks (read only) whether the balance carries it past the warning's lead plus a slice
      const now = clock.now();
      const ahead = c.warning ? Math.ceil((now - c.answerAt + c.warning.leadMs) / 1000) + cfg.sliceSeconds : 0;
      const t = c.tenantId;
      const shard = k.shardOfTenant(t);
      const reply = (await timed('redis', 'charging_extend', () => durably(redis, 'extend', 'chargeExtend',
        k.tenant(t), k.buckets(t), k.bucketMeta(t), k.expirySeq(t),
        k.call(shard, c.callId), k.leases(shard), k.outbox(shard), k.calls(t), c.callId, t, now, target, cfg.consumptionOrder, this.ctx.graceMs,
        ...(ahead > 0 ? [ahead] : []),
      ))).map(Number) as [number, number, number | undefined];
      this.applyGrant(c, reply, cap, Math.max(target, ahead));
    } catch (e) {
      c.extending = false;
      c.uncertain = true;
      c.log.warn({ err: (e as Error).message }, 'slice request failed; retrying until the grant ends');
      const end = c.answerAt + c.granted * 1000;
      if (clock.now() + RETRY_MS < end) c.cancelExtend = clock.at(clock.now() + RETRY_MS, () => this.state.track(this.extend(c)));
    }
  }

  /** extend.lua's reply {granted, final, reach} applied to the call, and its timers armed again. */
  private applyGrant(c: LiveCall, [g, fin, reach]: [number, number, number | undefined], cap: number, asked: number): void {
    assert.ok(Number.isInteger(g) && g <= Math.max(1, cap), 'extend.lua granted past the longest exact grant');
    // the balance runs out `reach` seconds from answer at the latest (another call of the tenant may take some first)
    c.horizon = reach !== undefined && Number.isFinite(reach) && reach < asked ? reach : null;
    if (g < 0) {
      c.log.warn('call no longer known to Redis (reclaimed); no more credit');
      c.final = true;
    } else {
      c.short = g - c.granted < this.ctx.cfg.sliceSeconds;
      c.granted = g; // may be less than before: a fair-share give-back (docs/charging.md)
      c.uncertain = false;
      c.final = fin === 1 || c.granted >= cap;
    }
    c.extending = false;
    this.schedule(c);
    if (c.final && c.creditDuringExtend) this.state.track(this.extend(c));
  }
}
