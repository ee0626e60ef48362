/**
 * Authorize (engine step 1): rate the call (the tenant's rate plan id cached per instance, decks in RateCache, each
 * deck entry prepared once), then reserve its first slice in one atomic step (authorize.lua), cold-loading a tenant
 * Redis never held; when the store is unreachable, RFC 4006 CCFH: refuse (`terminate`) or admit one unreserved
 * slice (`continue`). Design: docs/charging.md ("Authorization and metering", "Failure policy").
 *
 * Invariants:
 * - a call is live only after Redis reserved its first slice (held fen = charge(granted), kept by authorize.lua), or,
 *   under `continue` with Redis unreachable, unreserved with one slice and never more (metering never extends it);
 * - a first grant is never more than what was asked: min(sliceSeconds, the rate's longest exact grant), and at least
 *   1 s (asserted: a larger one could pass maxCallSeconds or the exactness bound of the scripts' integer arithmetic);
 * - the plan id the script reserved under is the one the call was rated with (authorize.lua answers 'plan'
 *   otherwise, and the call is rated again).
 */
import assert from 'node:assert';
import type { Pool } from '../db/pool.js';
import type { AppliedRate } from '../cdr/types.js';
import { metrics, timed } from '../observability/metrics.js';
import { appliedRate, type RateEntry } from '../rating/deck.js';
import { maxExactSeconds, scriptRate } from '../rating/charge.js';
import { ratingDigits } from '../rating/normalize.js';
import { authorizeArgs } from './authorize-args.js';
import type { EngineContext, LiveCalls } from './live-calls.js';
import { RateCache } from './rate-cache.js';
import { durably } from './redis.js';
import { loadTenant } from './tenant-sync.js';
import type { AuthorizeRequest, AuthorizeResult } from './types.js';

/** A call that never gets answered keeps its first slice this long before the sweeper may reclaim it. */
const PENDING_LEASE_MS = 300_000;

interface PreparedRate { rate: AppliedRate; script: ReturnType<typeof scriptRate>; maxCall: number; json: string }
type Refusal = Exclude<AuthorizeResult, { ok: true }>;
type Reply = (string | number)[];

/** Authorize for one engine; forgetPlan is called for every tenant control message (its rate plan may have changed). */
export class Authorizer {
  private readonly rates: RateCache;
  private readonly plans = new Map<string, string>(); // tenant → rate plan id last seen in Redis
  /** Per deck entry, computed once: the CDR's AppliedRate, the scripts' integer rate and the longest exact grant. */
  private readonly prepared = new WeakMap<RateEntry, PreparedRate>();

  constructor(private readonly ctx: EngineContext, private readonly state: LiveCalls, private readonly pool: Pool) {
    this.rates = new RateCache(pool, () => ctx.clock.now());
  }

  async authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
    const end = metrics.authorizeLatency.startTimer();
    try {
      return await this.authorizeOnce(req);
    } finally {
      end();
    }
  }

  forgetPlan(tenantId: string): void {
    this.plans.delete(tenantId);
  }

  private async ratePlanOf(tenantId: string): Promise<string> {
    const known = this.plans.get(tenantId);
    if (known !== undefined) return known;
    const { redis, k } = this.ctx;
    const p = (await timed('redis', 'charging_plan', () => redis.hget(k.tenant(tenantId), 'plan'))) ?? '';
    this.plans.set(tenantId, p);
    return p;
  }

  private async rateFor(planId: string, digits: string, at: number): Promise<PreparedRate | null> {
    if (planId === '') return null;
    const entry = (await this.rates.get(planId)).find(digits, at);
    if (!entry) return null;
    let p = this.prepared.get(entry);
    if (!p) {
      const { cfg } = this.ctx;
      const rate = appliedRate(entry, cfg.rounding);
      p = { rate, script: scriptRate(rate), maxCall: maxExactSeconds(rate, cfg.maxCallSeconds), json: JSON.stringify(rate) };
      this.prepared.set(entry, p);
    }
    return p;
  }

  /** Rate, reserve; again after a cold load of the tenant or a rate plan change seen by the script. */
  private async authorizeOnce(req: AuthorizeRequest): Promise<AuthorizeResult> {
    if (!req.callId || !/^[0-9]{1,19}$/.test(req.tenantId)) throw new RangeError(`authorize: bad callId/tenantId ${JSON.stringify([req.callId, req.tenantId])}`);
    const digits = ratingDigits(req.calledNumber);
    if (digits === null) return { ok: false, reason: 'no_rate', detail: `called number ${JSON.stringify(req.calledNumber)} is not digits` };
    let loaded = false;
    for (let attempt = 0; attempt < 4; attempt++) {
      let planId: string;
      let prep: PreparedRate | null;
      try {
        planId = await this.ratePlanOf(req.tenantId);
        prep = await this.rateFor(planId, digits, req.at);
      } catch (e) {
        return this.storeDown(req, e, null);
      }
      if (planId !== '' && prep === null) return { ok: false, reason: 'no_rate', detail: `no rate for ${digits} in plan ${planId}` };
      let reply: Reply;
      try {
        reply = await this.reserve(req, planId, prep, digits);
      } catch (e) {
        return this.storeDown(req, e, prep?.rate ?? null);
      }
      if (reply[0] === 'unloaded') {
        if (loaded) return { ok: false, reason: 'suspended', detail: `tenant ${req.tenantId} could not be loaded` };
        const failed = await this.coldLoad(req);
        if (failed) return failed;
        loaded = true;
        continue;
      }
      if (reply[0] === 'plan') {
        this.plans.set(req.tenantId, String(reply[1]));
        continue;
      }
      return this.outcome(req, reply, prep);
    }
    return { ok: false, reason: 'suspended', detail: `tenant ${req.tenantId}: rate plan kept changing during authorization` };
  }

  /** authorize.lua with the rate found (or, with no plan known yet, a zero rate: the script then only runs its
   * tenant checks and answers 'plan' or refuses, never reserving). */
  private reserve(req: AuthorizeRequest, planId: string, prep: PreparedRate | null, digits: string): Promise<Reply> {
    const { redis, k, cfg } = this.ctx;
    const r = prep?.script ?? { price: '0', cf: '0', init: 1, sub: 1, min: 0, rnd: cfg.rounding };
    const maxCall = prep?.maxCall ?? cfg.maxCallSeconds;
    const args = authorizeArgs(k, {
      callId: req.callId, tenantId: req.tenantId, now: req.at, planId, price: r.price, connectFee: r.cf, initIncr: r.init, subIncr: r.sub,
      minSeconds: r.min, rounding: r.rnd, firstSlice: Math.min(cfg.sliceSeconds, maxCall), maxCall, order: cfg.consumptionOrder,
      instanceId: this.ctx.instanceId, pendingLeaseEnd: req.at + PENDING_LEASE_MS + this.ctx.graceMs, rateJson: prep?.json ?? 'null', callee: digits,
    });
    return timed('redis', 'charging_authorize', () => durably(redis, 'authorize', 'chargeAuthorize', ...args));
  }

  /** Load a tenant Redis never held from PostgreSQL; a refusal when that fails, null when loaded. */
  private async coldLoad(req: AuthorizeRequest): Promise<AuthorizeResult | null> {
    try {
      await loadTenant(this.pool, this.ctx.redis, req.tenantId);
    } catch (e) {
      if (e instanceof RangeError) return { ok: false, reason: 'suspended', detail: e.message };
      return this.storeDown(req, e, null);
    }
    this.plans.delete(req.tenantId);
    return null;
  }

  /** The script's last word: a refusal, or the call's grant (it becomes live). */
  private outcome(req: AuthorizeRequest, reply: Reply, prep: PreparedRate | null): AuthorizeResult {
    const kind = reply[0];
    if (kind === 'refuse') return { ok: false, reason: reply[1] as Refusal['reason'], detail: String(reply[2]) };
    if (kind === 'done') return { ok: false, reason: 'limit', detail: `call ${req.callId} was already settled` };
    if (!prep) return { ok: false, reason: 'no_rate', detail: `tenant ${req.tenantId} has no rate plan` };
    const granted = Number(reply[1]);
    if (kind === 'ok') {
      assert.ok(granted >= 1 && granted <= Math.max(1, Math.min(this.ctx.cfg.sliceSeconds, prep.maxCall)), 'authorize.lua granted more than the first slice asked');
    }
    const maxSeconds = kind === 'ok' ? Number(reply[3]) : granted;
    this.state.open(this.ctx, req.callId, req.tenantId, prep.rate, true, granted);
    return { ok: true, rate: prep.rate, maxSeconds };
  }

  /** Redis (or, for an unloaded tenant, PostgreSQL) unreachable: RFC 4006 CCFH. */
  private storeDown(req: AuthorizeRequest, e: unknown, rate: AppliedRate | null): AuthorizeResult {
    const { cfg } = this.ctx;
    this.ctx.log.warn({ callId: req.callId, tenant: req.tenantId, err: (e as Error).message }, 'charging store unreachable at authorize');
    if (req.failurePolicy === 'continue' && rate) {
      // fail open, bounded: one slice, never extended without Redis (see docs/charging.md)
      const granted = Math.min(cfg.sliceSeconds, cfg.maxCallSeconds);
      this.state.open(this.ctx, req.callId, req.tenantId, rate, false, granted);
      return { ok: true, rate, maxSeconds: granted };
    }
    return { ok: false, reason: 'store_down', detail: `charging store unreachable: ${(e as Error).message}` };
  }
}
