/**
 * The sweeper (crash recovery): every interval, shard by shard, expire the due buckets of idle tenants (expire.lua)
 * and reclaim the calls whose lease ran out (a dead instance's), settling each with its best known duration
 * through settle.lua with the reclaim flag. Design: docs/charging.md ("Crash recovery (leases)").
 *
 * Invariants:
 * - a call of this instance (live or with a queued settlement) is never reclaimed here;
 * - a reclaim settles only while the call's lease has still run out, checked inside the atomic step (it never races
 *   a live extension), and at most once across sweepers (the done: marker);
 * - a reclaimed call is billed its best known end, never past its grant (asserted by settlement's bill);
 * - a call that cannot be settled (corrupt hash, a script refusing it) never stops the sweep of the others: it keeps
 *   its hash and holds for the operator and is looked at again an hour later; an unreachable shard never stops
 *   the other shards.
 */
import type { CallFacts } from '../cdr/types.js';
import { dayOf } from '../calendar/zone.js';
import type { EngineContext, LiveCalls } from './live-calls.js';
import { reclaimFacts, type ReclaimFacts } from './reclaim.js';
import { bill, type Settlement } from './settlement.js';
import { expireBuckets } from './tenant-sync.js';
import type { SettleResult } from './types.js';

/** Lifetime of a day's spend counter (as src/sip/limits.ts keeps it). */
const SPEND_TTL_SECONDS = 3 * 86400;
/** A call the sweeper cannot settle (corrupt hash) is looked at again this much later. */
const SET_ASIDE_MS = 3_600_000;
/** Most due tenants and due leases taken per shard and sweep. */
const BATCH = 200;

class UnusableCall extends Error {}

/**
 * The moment a reclaimed call is taken to have ended: its grant end (the call was allowed until then, and nobody was
 * left to cut it earlier), or now for a call never answered. A per-instance heartbeat would bound it by the owner's
 * last beat.
 */
function bestKnownEnd(f: ReclaimFacts, now: number): number {
  return f.answerAt !== null ? f.answerAt + f.granted * 1000 : now;
}

/** The lease sweeper of one engine. */
export class Sweeper {
  private cancelSweep: (() => void) | null = null;

  constructor(private readonly ctx: EngineContext, private readonly state: LiveCalls, private readonly settlement: Pick<Settlement, 'settleReserved'>) {}

  /** Expire due buckets of idle tenants, then reclaim calls whose lease expired; the number of calls reclaimed.
   * Every shard in turn; a shard whose node is unreachable (failover) does not stop the others. */
  async sweep(): Promise<number> {
    let n = 0;
    let failed: unknown = null;
    for (const shard of this.ctx.k.all()) {
      try {
        n += await this.sweepShard(shard);
      } catch (e) {
        failed ??= e;
      }
    }
    if (failed) throw failed;
    return n;
  }

  /** Sweep every `everyMs` until stop(). */
  start(everyMs: number): void {
    const { clock, log } = this.ctx;
    const loop = () => {
      this.cancelSweep = clock.at(clock.now() + everyMs, () => {
        if (this.state.closed) return;
        this.state.track(this.sweep().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'lease sweep failed')).finally(loop));
      });
    };
    loop();
  }

  stop(): void {
    this.cancelSweep?.();
  }

  private async sweepShard(shard: number): Promise<number> {
    const { redis, k, clock } = this.ctx;
    const now = clock.now();
    for (const t of await redis.zrangebyscore(k.expiries(shard), '-inf', now, 'LIMIT', 0, BATCH)) await expireBuckets(redis, t, now);
    const due = await redis.zrangebyscore(k.leases(shard), '-inf', now, 'LIMIT', 0, BATCH);
    let n = 0;
    for (const callId of due) {
      if (this.state.live.has(callId) || this.state.retries.has(callId)) continue; // ours: our timers or our deferred settlement handle it
      // one call that cannot be settled (corrupt hash, a script refusing it) is set aside; Redis being unreachable
      // still fails the shard (thrown), to be tried again at the next sweep
      try {
        if (await this.reclaim(shard, callId, now)) n++;
      } catch (e) {
        if (!(e instanceof UnusableCall) && (e as Error).name !== 'ReplyError') throw e;
        await this.setAside(shard, callId, (e as Error).message);
      }
    }
    return n;
  }

  /** Settle one call of a lost instance with its best known duration; true if this sweep settled it. */
  private async reclaim(shard: number, callId: string, now: number): Promise<boolean> {
    const { redis, k } = this.ctx;
    const h = await redis.hgetall(k.call(shard, callId));
    if (!h.tenant) {
      await redis.zrem(k.leases(shard), callId); // settled meanwhile (its hash is gone): a stale lease
      return false;
    }
    const f = reclaimFacts(h, shard, k.shardOfTenant);
    if ('problem' in f) throw new UnusableCall(f.problem);
    const cdr = bill(lostCall(callId, f, now), f.rate, f.granted, this.ctx.instanceId);
    let r: SettleResult;
    try {
      r = await this.settlement.settleReserved(callId, f.tenantId, cdr, true);
    } catch (e) {
      if ((e as Error).message === 'lease still valid') return false; // extended meanwhile: its owner lives
      throw e;
    }
    // its SIP limits slot (src/sip/limits.ts) would otherwise count against the tenant until its own lease ran out
    await redis.zrem(k.sipCalls(f.tenantId), callId);
    if (r.duplicate) return false;
    // the tenant's spend of the day (daily spend cap, src/sip/limits.ts), which the call's own end would have added
    if (r.chargeFen > 0n) {
      const spend = k.sipSpend(f.tenantId, dayOf(new Date(now), this.ctx.config.service.timezone));
      await redis.multi().incrby(spend, r.chargeFen.toString()).expire(spend, SPEND_TTL_SECONDS).exec();
    }
    this.ctx.log.warn({ callId, tenant: f.tenantId, owner: f.owner, chargeFen: cdr.chargeFen }, 'reclaimed call of a lost instance');
    return true;
  }

  /** A call the sweeper cannot settle keeps its hash (and its holds) for the operator; its lease moves past the
   * next hour so it neither fills the sweep's window of due leases nor floods the log. */
  private async setAside(shard: number, callId: string, problem: string): Promise<void> {
    const { redis, k, clock } = this.ctx;
    this.ctx.log.error({ callId, shard, problem }, 'lease sweep: call cannot be settled, set aside for an hour (docs/charging.md)');
    await redis.zadd(k.leases(shard), 'XX', 'GT', clock.now() + SET_ASIDE_MS, callId);
  }
}

/** The facts of a call whose instance was lost, as its CDR records them. */
function lostCall(callId: string, f: ReclaimFacts, now: number): CallFacts {
  const answered = f.answerAt !== null;
  return {
    callId, aCallId: callId, bCallId: null, tenantId: f.tenantId, caller: '', callee: f.callee, ingressTrunk: null, gateway: null,
    inviteAt: f.inviteAt, ringAt: null, answerAt: f.answerAt, endAt: bestKnownEnd(f, now),
    sipStatus: answered ? 200 : 408, result: answered ? 'answered' : 'failed', rejectReason: null,
    disconnectSide: 'system', disconnectReason: `instance ${f.owner} lost: reclaimed after lease expiry`,
  };
}
