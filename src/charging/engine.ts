/**
 * The charging engine (contract 4): rating + atomic reservation slices in Redis (RFC 4006 style), per-call
 * metering with local timers only, settlement with the outbox event in the same Lua step, a lease sweeper that
 * reclaims calls of dead instances, and the CCFH failure policy. Design and overdraft proof: docs/charging.md.
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import type { AppliedRate, CallFacts, CdrRecord } from '../cdr/types.js';
import { metrics, timed } from '../observability/metrics.js';
import { appliedRate, type RateEntry } from '../rating/deck.js';
import { maxExactSeconds, scriptRate } from '../rating/charge.js';
import { ratingDigits } from '../rating/normalize.js';
import type { AuthorizeRequest, AuthorizeResult, ChargingEngine, LowCreditWarning, Metering, SettleResult } from './types.js';
import { billCall } from './cdr.js';
import { reclaimFacts } from './reclaim.js';
import { dayOf } from '../calendar/zone.js';
import { realClock, type Clock } from './clock.js';
import { RateCache } from './rate-cache.js';
import { durably, type ChargingRedis } from './redis.js';
import { expireBuckets, loadTenant, subscribeTenantControl } from './tenant-sync.js';

/** A call that never gets answered keeps its first slice this long before the sweeper may reclaim it. */
const PENDING_LEASE_MS = 300_000;
/** Settled-call markers (idempotency of finish and of the sweeper) are kept this long. */
const DONE_TTL_SECONDS = 7 * 24 * 3600;
/** A call whose last grant was less than a full slice (short balance, fair sharing) asks again within this long,
 * so a call holding more than its share gives the excess back soon (docs/charging.md). */
const SHORT_REASK_MS = 2000;
/** No slice request closer than this to the grant end: the call is then cut at grant end unless a credit comes. */
const MIN_LEAD_MS = 100;
/** A call with a low-credit warning asks for its next slice this long before the warning would be due. */
const WARN_ASK_MS = 2000;
/** Retry period of a settlement or slice request that failed because Redis was unreachable. */
const RETRY_MS = 1000;
/** Lifetime of a day's spend counter (as src/sip/limits.ts keeps it). */
const SPEND_TTL_SECONDS = 3 * 86400;
/** A call the sweeper cannot settle (corrupt hash) is looked at again this much later. */
const SET_ASIDE_MS = 3_600_000;

class UnusableCall extends Error {}

interface LiveCall {
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

interface PreparedRate { rate: AppliedRate; script: ReturnType<typeof scriptRate>; maxCall: number; json: string }

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
  const { redis, pool, config, instanceId } = deps;
  const k = redis.layout;
  const clock = deps.clock ?? realClock;
  const cfg = config.charging;
  const graceMs = cfg.leaseGraceSeconds * 1000;
  const rates = new RateCache(pool, () => clock.now());
  const plans = new Map<string, string>(); // tenant → rate plan id last seen in Redis
  const live = new Map<string, LiveCall>();
  const retries = new Map<string, () => Promise<void>>();
  let closed = false;
  const inflight = new Set<Promise<unknown>>();
  /** Background work (slice requests, retries, sweeps) is tracked so idle() can wait for it. */
  function track(p: Promise<unknown>): void {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  let unsubscribe: (() => Promise<void>) | null = null;
  let cancelRetry: (() => void) | null = null;
  let cancelSweep: (() => void) | null = null;

  const log = deps.logger.child({ component: 'charging', instanceId });

  const ready = subscribeTenantControl(redis, (m) => {
    plans.delete(m.tenantId);
    if (m.action !== 'credit') return;
    for (const c of live.values()) {
      if (c.tenantId !== m.tenantId || c.answerAt === null || c.exhausted) continue;
      if (c.extending) c.creditDuringExtend = true;
      else if (c.final) track(extend(c));
    }
  }).then((u) => {
    unsubscribe = u;
  }, (e: unknown) => log.warn({ err: e }, 'control channel subscription failed; credits reach live calls at their next slice only'));

  // ---------- authorize ----------

  async function ratePlanOf(tenantId: string): Promise<string> {
    const known = plans.get(tenantId);
    if (known !== undefined) return known;
    const p = (await timed('redis', 'charging_plan', () => redis.hget(k.tenant(tenantId), 'plan'))) ?? '';
    plans.set(tenantId, p);
    return p;
  }

  /** Per deck entry, computed once: the CDR's AppliedRate, the scripts' integer rate and the longest exact grant. */
  const prepared = new WeakMap<RateEntry, PreparedRate>();
  async function rateFor(planId: string, digits: string, at: number): Promise<PreparedRate | null> {
    if (planId === '') return null;
    const entry = (await rates.get(planId)).find(digits, at);
    if (!entry) return null;
    let p = prepared.get(entry);
    if (!p) {
      const rate = appliedRate(entry, cfg.rounding);
      p = { rate, script: scriptRate(rate), maxCall: maxExactSeconds(rate, cfg.maxCallSeconds), json: JSON.stringify(rate) };
      prepared.set(entry, p);
    }
    return p;
  }

  async function authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
    const end = metrics.authorizeLatency.startTimer();
    try {
      return await authorizeOnce(req);
    } finally {
      end();
    }
  }

  async function authorizeOnce(req: AuthorizeRequest): Promise<AuthorizeResult> {
    if (!req.callId || !/^[0-9]{1,19}$/.test(req.tenantId)) throw new RangeError(`authorize: bad callId/tenantId ${JSON.stringify([req.callId, req.tenantId])}`);
    const digits = ratingDigits(req.calledNumber);
    if (digits === null) return { ok: false, reason: 'no_rate', detail: `called number ${JSON.stringify(req.calledNumber)} is not digits` };
    let loaded = false;
    for (let attempt = 0; attempt < 4; attempt++) {
      let planId: string;
      let prep: PreparedRate | null;
      try {
        planId = await ratePlanOf(req.tenantId);
        prep = await rateFor(planId, digits, req.at);
      } catch (e) {
        return storeDown(req, e, null);
      }
      if (planId !== '' && prep === null) return { ok: false, reason: 'no_rate', detail: `no rate for ${digits} in plan ${planId}` };
      const rate = prep?.rate ?? null;
      // no plan yet: the script still runs its tenant checks (and answers 'plan' or refuses) but never reserves
      const r = prep?.script ?? { price: '0', cf: '0', init: 1, sub: 1, min: 0, rnd: cfg.rounding };
      const maxCall = prep?.maxCall ?? cfg.maxCallSeconds;
      let reply: (string | number)[];
      try {
        const t = req.tenantId;
        const shard = k.shardOfTenant(t);
        reply = await timed('redis', 'charging_authorize', () => durably(redis, 'authorize', 'chargeAuthorize',
          k.tenant(t), k.buckets(t), k.bucketMeta(t), k.expirySeq(t),
          k.call(shard, req.callId), k.done(shard, req.callId), k.leases(shard), k.outbox(shard), k.calls(t),
          req.callId, req.tenantId, req.at, planId, r.price, r.cf, r.init, r.sub, r.min, r.rnd,
          Math.min(cfg.sliceSeconds, maxCall), maxCall, cfg.consumptionOrder, instanceId, req.at + PENDING_LEASE_MS + graceMs,
          prep?.json ?? 'null', digits,
        ));
      } catch (e) {
        return storeDown(req, e, rate);
      }
      const kind = reply[0];
      if (kind === 'unloaded') {
        if (loaded) return { ok: false, reason: 'suspended', detail: `tenant ${req.tenantId} could not be loaded` };
        try {
          await loadTenant(pool, redis, req.tenantId);
        } catch (e) {
          if (e instanceof RangeError) return { ok: false, reason: 'suspended', detail: e.message };
          return storeDown(req, e, null);
        }
        loaded = true;
        plans.delete(req.tenantId);
        continue;
      }
      if (kind === 'plan') {
        plans.set(req.tenantId, String(reply[1]));
        continue;
      }
      if (kind === 'refuse') return { ok: false, reason: reply[1] as Exclude<AuthorizeResult, { ok: true }>['reason'], detail: String(reply[2]) };
      if (kind === 'done') return { ok: false, reason: 'limit', detail: `call ${req.callId} was already settled` };
      if (!rate) return { ok: false, reason: 'no_rate', detail: `tenant ${req.tenantId} has no rate plan` };
      const granted = Number(reply[1]);
      const maxSeconds = kind === 'ok' ? Number(reply[3]) : granted;
      live.set(req.callId, newCall(req.callId, req.tenantId, rate, true, granted));
      return { ok: true, rate, maxSeconds };
    }
    return { ok: false, reason: 'suspended', detail: `tenant ${req.tenantId}: rate plan kept changing during authorization` };
  }

  /** Redis (or, for an unloaded tenant, PostgreSQL) unreachable: RFC 4006 CCFH. */
  function storeDown(req: AuthorizeRequest, e: unknown, rate: AppliedRate | null): AuthorizeResult {
    log.warn({ callId: req.callId, tenant: req.tenantId, err: (e as Error).message }, 'charging store unreachable at authorize');
    if (req.failurePolicy === 'continue' && rate) {
      // fail open, bounded: one slice, never extended without Redis (see docs/charging.md)
      const granted = Math.min(cfg.sliceSeconds, cfg.maxCallSeconds);
      live.set(req.callId, newCall(req.callId, req.tenantId, rate, false, granted));
      return { ok: true, rate, maxSeconds: granted };
    }
    return { ok: false, reason: 'store_down', detail: `charging store unreachable: ${(e as Error).message}` };
  }

  function newCall(callId: string, tenantId: string, rate: AppliedRate, reserved: boolean, granted: number): LiveCall {
    return {
      callId, tenantId, rate, reserved, granted, final: false, short: granted < Math.min(cfg.sliceSeconds, cfg.maxCallSeconds), answerAt: null, onExhausted: null, exhausted: false,
      cancelExtend: null, cancelCut: null, warning: null, horizon: null, warnedFor: null, cancelWarn: null, extending: false, extendDone: null, uncertain: false, creditDuringExtend: false,
      // the per-call child logger is made on first use: most calls never log
      get log() {
        const l = deps.logger.child({ callId, tenant: tenantId });
        Object.defineProperty(this, 'log', { value: l });
        return l;
      },
    };
  }

  // ---------- metering ----------

  async function answered(callId: string, answerAt: number, onExhausted: (cutAtMs: number) => void, warning?: LowCreditWarning): Promise<Metering> {
    const c = live.get(callId);
    if (!c) throw new Error(`answered: call ${callId} was not authorized by this instance`);
    c.answerAt = answerAt;
    c.onExhausted = onExhausted;
    c.warning = warning ?? null;
    if (c.reserved) {
      try {
        const shard = k.shardOfTenant(c.tenantId);
        const g = await timed('redis', 'charging_answer', () => durably(redis, 'answer', 'chargeAnswer', k.call(shard, callId), k.leases(shard), callId, answerAt, graceMs));
        if (g < 0) {
          c.log.warn('call was reclaimed before answer; cutting it');
          c.granted = 0;
          c.final = true;
        } else c.granted = g;
      } catch (e) {
        c.log.warn({ err: (e as Error).message }, 'redis unreachable at answer; the call keeps its grant');
      }
    } else c.final = true;
    schedule(c);
    return {
      get grantedUntil() {
        return answerAt + c.granted * 1000;
      },
      stop: () => stopTimers(c),
    };
  }

  function stopTimers(c: LiveCall): void {
    c.cancelExtend?.();
    c.cancelCut?.();
    c.cancelWarn?.();
    c.cancelExtend = c.cancelCut = c.cancelWarn = null;
  }

  /**
   * Timers of a live call: ask for the next slice a little before the grant ends; cut exactly at grant end.
   * The lead is at most half of what is left of the grant, so a short grant (fair sharing of a short balance) is
   * renewed while it still runs, and a renewal never comes right after the previous one.
   */
  function schedule(c: LiveCall): void {
    if (c.answerAt === null || c.exhausted || closed || !live.has(c.callId)) return; // finished while answering
    stopTimers(c);
    const end = c.answerAt + c.granted * 1000;
    c.cancelCut = clock.at(end, () => {
      if (c.exhausted || !live.has(c.callId)) return;
      c.exhausted = true;
      stopTimers(c);
      c.log.info({ grantedSeconds: c.granted }, 'credit for this call exhausted: cut');
      c.onExhausted?.(end);
    });
    if (!c.final) {
      const now = clock.now();
      // a warned call asks early enough to learn that its grant is final before the warning is due
      const want = Math.max(Math.min(10, Math.max(1, Math.floor(cfg.sliceSeconds / 4))) * 1000, c.warning ? c.warning.leadMs + WARN_ASK_MS : 0);
      const lead = Math.min(want, Math.floor((end - now) / 2));
      if (lead < MIN_LEAD_MS) c.final = true;
      else c.cancelExtend = clock.at(c.short ? Math.min(end - lead, now + SHORT_REASK_MS) : end - lead, () => track(extend(c)));
    }
    // the warning: due leadMs before the latest the call can last (its grant when final, else the balance's horizon)
    const limit = c.final ? c.granted : c.horizon;
    if (c.warning && limit !== null) {
      const w = c.warning;
      const cutAt = c.answerAt + limit * 1000;
      if (c.warnedFor === null || cutAt > c.warnedFor) {
        c.cancelWarn = clock.at(Math.max(clock.now(), cutAt - w.leadMs), () => {
          if (c.exhausted || !live.has(c.callId)) return;
          c.warnedFor = cutAt;
          c.cancelWarn = null;
          w.onWarning(cutAt);
        });
      }
    }
  }

  async function extend(c: LiveCall): Promise<void> {
    if (c.extending || c.exhausted || !c.reserved || c.answerAt === null || closed) return;
    c.extending = true;
    c.creditDuringExtend = false;
    let done!: () => void;
    const p = new Promise<void>((r) => (done = r));
    c.extendDone = p;
    try {
      await extendOnce(c);
    } finally {
      if (c.extendDone === p) c.extendDone = null; // a follow-up request may already have replaced it
      done();
    }
  }

  async function extendOnce(c: LiveCall): Promise<void> {
    if (c.answerAt === null) return;
    const cap = maxExactSeconds(c.rate, cfg.maxCallSeconds);
    const target = Math.min(c.granted + cfg.sliceSeconds, cap);
    try {
      // a warned call also asks (read only) whether the balance carries it past the warning's lead plus a slice
      const now = clock.now();
      const ahead = c.warning ? Math.ceil((now - c.answerAt + c.warning.leadMs) / 1000) + cfg.sliceSeconds : 0;
      const t = c.tenantId;
      const shard = k.shardOfTenant(t);
      const [g, fin, reach] = (await timed('redis', 'charging_extend', () => durably(redis, 'extend', 'chargeExtend',
        k.tenant(t), k.buckets(t), k.bucketMeta(t), k.expirySeq(t),
        k.call(shard, c.callId), k.leases(shard), k.outbox(shard), k.calls(t), c.callId, t, now, target, cfg.consumptionOrder, graceMs,
        ...(ahead > 0 ? [ahead] : []),
      ))).map(Number) as [number, number, number | undefined];
      // the balance runs out `reach` seconds from answer at the latest (another call of the tenant may take some first)
      c.horizon = reach !== undefined && Number.isFinite(reach) && reach < Math.max(target, ahead) ? reach : null;
      if (g < 0) {
        c.log.warn('call no longer known to Redis (reclaimed); no more credit');
        c.final = true;
      } else {
        c.short = g - c.granted < cfg.sliceSeconds;
        c.granted = g; // may be less than before: a fair-share give-back (docs/charging.md)
        c.uncertain = false;
        c.final = fin === 1 || c.granted >= cap;
      }
      c.extending = false;
      schedule(c);
      if (c.final && c.creditDuringExtend) track(extend(c));
    } catch (e) {
      c.extending = false;
      c.uncertain = true;
      c.log.warn({ err: (e as Error).message }, 'slice request failed; retrying until the grant ends');
      const end = c.answerAt + c.granted * 1000;
      if (clock.now() + RETRY_MS < end) c.cancelExtend = clock.at(clock.now() + RETRY_MS, () => track(extend(c)));
    }
  }

  // ---------- settlement ----------

  async function finish(facts: CallFacts): Promise<SettleResult> {
    const c = live.get(facts.callId);
    if (c) {
      c.exhausted = true; // no more slice requests or cut for this call
      stopTimers(c);
      if (c.extendDone) await c.extendDone; // its reply may shrink the grant
      stopTimers(c);
    }
    let rate = c?.rate ?? null;
    let granted = c?.granted ?? 0;
    let reserved = c?.reserved ?? true;
    if (!c || (c.reserved && c.uncertain)) {
      // not ours (e.g. restarted instance), or a slice request's reply was lost: use what Redis knows of the call
      let h: (string | null)[];
      try {
        const shard = k.shardOf(facts.tenantId ?? c?.tenantId, facts.callId);
        h = await timed('redis', 'charging_call_read', () => redis.hmget(k.call(shard, facts.callId), 'rate', 'granted'));
      } catch (e) {
        log.error({ callId: facts.callId, err: (e as Error).message }, 'settlement deferred: Redis unreachable');
        queueRetry(facts.callId, async () => void (await finish(facts)));
        // provisional answer: what this instance let the call run (the replay bills what Redis really holds)
        const cdr = billCall(facts, c?.rate ?? null, c?.granted ?? 0, instanceId);
        if (c) return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
        return { chargeFen: 0n, billableSeconds: 0, cdr, duplicate: false };
      }
      if (h[0]) {
        rate = JSON.parse(h[0]) as AppliedRate;
        // never bill past what this instance let the call run, nor past what Redis holds for it
        granted = c ? Math.min(c.granted, Number(h[1])) : Number(h[1]);
      } else reserved = false;
    }
    const cdr = billCall(facts, rate, granted, instanceId);
    const summary = `${cdr.chargeFen}|${cdr.billableSeconds}`;
    const tenantId = facts.tenantId ?? c?.tenantId ?? '';
    const run = reserved ? () => settleReserved(facts.callId, tenantId, cdr, summary).catch(async (e: unknown) => {
      if (!/charge exceeds hold/.test(String((e as Error)?.message))) throw e;
      // Redis holds a shorter grant than this instance let the call run: a slice request whose write was lost
      // with a failed master (docs/scaling.md). Bill what Redis holds; the rest of the talk time is not charged.
      const g = Number((await redis.hget(k.call(k.shardOfTenant(tenantId), facts.callId), 'granted')) ?? '0');
      const capped = billCall(facts, rate, Math.min(granted, g), instanceId);
      (c?.log ?? log).warn({ callId: facts.callId, granted, redisGranted: g }, 'grant in Redis shorter than the one used: billing the Redis grant');
      return settleReserved(facts.callId, tenantId, capped, `${capped.chargeFen}|${capped.billableSeconds}`);
    }) : () => recordUnreserved(cdr, 'call.settled');
    try {
      const out = await run();
      live.delete(facts.callId);
      return out;
    } catch (e) {
      // Redis unreachable: keep the settlement and replay it (idempotent) until Redis answers
      (c?.log ?? log).error({ err: (e as Error).message }, 'settlement deferred: Redis unreachable');
      live.delete(facts.callId);
      queueRetry(facts.callId, async () => void (await run()));
      return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
    }
  }

  async function settleReserved(callId: string, tenantId: string, cdr: CdrRecord, summary: string, reclaim = false): Promise<SettleResult> {
    const shard = k.shardOfTenant(tenantId);
    const reply = await timed('redis', 'charging_settle', () => durably(redis, 'settle', 'chargeSettle',
      k.call(shard, callId), k.done(shard, callId), k.buckets(tenantId), k.bucketMeta(tenantId), k.leases(shard), k.outbox(shard), k.calls(tenantId),
      callId, clock.now(), cdr.chargeFen, JSON.stringify(cdr), cfg.consumptionOrder, reclaim ? '1' : '0', DONE_TTL_SECONDS, summary,
    ));
    if (reply[0] === 'dup') {
      const [charge, billable] = String(reply[1]).split('|');
      return { chargeFen: BigInt(charge!), billableSeconds: Number(billable) || 0, cdr, duplicate: true };
    }
    if (reply[0] === 'missing') return recordUnreserved(cdr, 'call.settled'); // Redis lost the call: charge what is there
    if (reply[0] === 'leased') throw new Error('lease still valid');
    return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
  }

  async function recordUnreserved(cdr: CdrRecord, type: 'call.settled' | 'call.rejected'): Promise<SettleResult> {
    const t = cdr.tenantId ?? '';
    const shard = k.shardOf(t, cdr.callId);
    // without a tenant the script touches no bucket: the shard's outbox stands in for the three tenant keys, so
    // the step still names keys of one slot only
    const tenantKeys = t ? [k.buckets(t), k.bucketMeta(t), k.expirySeq(t)] as const : [k.outbox(shard), k.outbox(shard), k.outbox(shard)] as const;
    const reply = await timed('redis', 'charging_record', () => durably(redis, 'settle', 'chargeRecord',
      k.done(shard, cdr.callId), k.outbox(shard), ...tenantKeys,
      cdr.callId, clock.now(), type, JSON.stringify(cdr), cdr.chargeFen, cfg.consumptionOrder, t, DONE_TTL_SECONDS,
    ));
    if (reply[0] === 'dup') return { chargeFen: BigInt(String(reply[1]).split('|')[0]!), billableSeconds: cdr.billableSeconds, cdr, duplicate: true };
    const got = BigInt(String(reply[1]));
    if (got !== BigInt(cdr.chargeFen)) log.warn({ callId: cdr.callId, rated: cdr.chargeFen, charged: got.toString() }, 'unreserved call could not be fully charged');
    return { chargeFen: got, billableSeconds: cdr.billableSeconds, cdr: { ...cdr, chargeFen: got.toString() }, duplicate: false };
  }

  async function recordRejected(facts: CallFacts): Promise<void> {
    const cdr = billCall(facts, null, 0, instanceId);
    const run = async () => void (await recordUnreserved(cdr, 'call.rejected'));
    try {
      await run();
    } catch (e) {
      log.error({ callId: facts.callId, err: (e as Error).message }, 'rejected-call record deferred: Redis unreachable');
      queueRetry(facts.callId, run);
    }
  }

  function queueRetry(callId: string, fn: () => Promise<void>): void {
    retries.set(callId, fn);
    armRetry();
  }

  function armRetry(): void {
    if (cancelRetry || closed || retries.size === 0) return;
    cancelRetry = clock.at(clock.now() + RETRY_MS, () => {
      cancelRetry = null;
      track(flushRetries().finally(armRetry));
    });
  }

  async function flushRetries(): Promise<void> {
    for (const [id, fn] of [...retries]) {
      retries.delete(id);
      try {
        await fn();
      } catch {
        if (!retries.has(id)) retries.set(id, fn);
        return; // still down: try again later
      }
    }
  }

  // ---------- crash recovery ----------

  /** Every shard in turn; a shard whose node is unreachable (failover) does not stop the others. */
  async function sweep(): Promise<number> {
    let n = 0;
    let failed: unknown = null;
    for (const shard of k.all()) {
      try {
        n += await sweepShard(shard);
      } catch (e) {
        failed ??= e;
      }
    }
    if (failed) throw failed;
    return n;
  }

  async function sweepShard(shard: number): Promise<number> {
    const now = clock.now();
    for (const t of await redis.zrangebyscore(k.expiries(shard), '-inf', now, 'LIMIT', 0, 200)) await expireBuckets(redis, t, now);
    const due = await redis.zrangebyscore(k.leases(shard), '-inf', now, 'LIMIT', 0, 200);
    let n = 0;
    for (const callId of due) {
      if (live.has(callId) || retries.has(callId)) continue; // ours: our timers or our deferred settlement handle it
      // one call that cannot be settled (corrupt hash, a script refusing it) is set aside; Redis being unreachable
      // still fails the shard (thrown), to be tried again at the next sweep
      try {
        if (await reclaim(shard, callId, now)) n++;
      } catch (e) {
        if (!(e instanceof UnusableCall) && (e as Error).name !== 'ReplyError') throw e;
        await setAside(shard, callId, (e as Error).message);
      }
    }
    return n;
  }

  /** Settle one call of a lost instance with its best known duration; true if this sweep settled it. */
  async function reclaim(shard: number, callId: string, now: number): Promise<boolean> {
    const h = await redis.hgetall(k.call(shard, callId));
    if (!h.tenant) {
      await redis.zrem(k.leases(shard), callId); // settled meanwhile (its hash is gone): a stale lease
      return false;
    }
    const f = reclaimFacts(h, shard, k.shardOfTenant);
    if ('problem' in f) throw new UnusableCall(f.problem);
    const facts: CallFacts = {
      callId, aCallId: callId, bCallId: null, tenantId: f.tenantId, caller: '', callee: f.callee, ingressTrunk: null, gateway: null,
      inviteAt: f.inviteAt, ringAt: null, answerAt: f.answerAt, endAt: f.answerAt !== null ? f.answerAt + f.granted * 1000 : now,
      sipStatus: f.answerAt !== null ? 200 : 408, result: f.answerAt !== null ? 'answered' : 'failed', rejectReason: null,
      disconnectSide: 'system', disconnectReason: `instance ${f.owner} lost: reclaimed after lease expiry`,
    };
    const cdr = billCall(facts, f.rate, f.granted, instanceId);
    let r: SettleResult;
    try {
      r = await settleReserved(callId, f.tenantId, cdr, `${cdr.chargeFen}|${cdr.billableSeconds}`, true);
    } catch (e) {
      if ((e as Error).message === 'lease still valid') return false; // extended meanwhile: its owner lives
      throw e;
    }
    // its SIP limits slot (src/sip/limits.ts) would otherwise count against the tenant until its own lease ran out
    await redis.zrem(k.sipCalls(f.tenantId), callId);
    if (r.duplicate) return false;
    // the tenant's spend of the day (daily spend cap, src/sip/limits.ts), which the call's own end would have added
    if (r.chargeFen > 0n) {
      const spend = k.sipSpend(f.tenantId, dayOf(new Date(now), config.service.timezone));
      await redis.multi().incrby(spend, r.chargeFen.toString()).expire(spend, SPEND_TTL_SECONDS).exec();
    }
    log.warn({ callId, tenant: f.tenantId, owner: f.owner, chargeFen: cdr.chargeFen }, 'reclaimed call of a lost instance');
    return true;
  }

  /** A call the sweeper cannot settle keeps its hash (and its holds) for the operator; its lease moves past the
   * next hour so it neither fills the sweep's window of due leases nor floods the log. */
  async function setAside(shard: number, callId: string, problem: string): Promise<void> {
    log.error({ callId, shard, problem }, 'lease sweep: call cannot be settled, set aside for an hour (docs/charging.md)');
    await redis.zadd(k.leases(shard), 'XX', 'GT', clock.now() + SET_ASIDE_MS, callId);
  }

  if ((deps.sweepIntervalMs ?? 5000) > 0) {
    const every = deps.sweepIntervalMs ?? 5000;
    const loop = () => {
      cancelSweep = clock.at(clock.now() + every, () => {
        if (closed) return;
        track(sweep().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'lease sweep failed')).finally(loop));
      });
    };
    loop();
  }

  return {
    authorize,
    answered,
    finish,
    recordRejected,
    sweep,
    pendingSettlements: () => retries.size,
    async idle() {
      while (inflight.size) await Promise.allSettled([...inflight]);
    },
    async close() {
      closed = true;
      for (const c of live.values()) stopTimers(c);
      cancelRetry?.();
      cancelSweep?.();
      await flushRetries().catch(() => undefined);
      // still unsettled: reserved calls are reclaimed by another instance's sweeper after their lease; log the ids
      if (retries.size) log.error({ callIds: [...retries.keys()] }, 'closing with settlements Redis never took');
      await ready;
      await unsubscribe?.();
    },
  };
}

/** Control channel of tenant actions (contract 2), re-exported so the SIP layer imports the engine module only. */
export { subscribeTenantControl, type ControlMessage } from './tenant-sync.js';
