/**
 * Settlement (engine step 6): finish a call (settle.lua charges it from its holds and puts the CDR + ledger event in
 * the outbox in one atomic step), record a call that holds no reservation (record.lua: rejected, or admitted
 * unreserved under the `continue` policy), and replay both every RETRY_MS while Redis is unreachable. Design:
 * docs/charging.md ("Authorization and metering" step 6, "Failure policy"), docs/scaling.md (durability).
 *
 * Invariants:
 * - a call is never billed for seconds it was not granted: billed = min(talk, granted) (asserted at every bill),
 *   with granted = min(this instance's grant, Redis's) when a slice reply was lost, and Redis's grant when it holds
 *   less than this instance let the call run (settle.lua refuses a charge above the hold);
 * - settlement is idempotent by call id: the done: marker is written in the same step as the outbox event, so a
 *   replay, a second finish or a sweeper race charges nothing twice;
 * - an unreserved call is charged at most what it was rated (asserted) and at most what is available;
 * - a settlement Redis did not take stays in state.retries until it does (or the engine closes and logs its id).
 *
 * Deferred settlements live in memory (state.retries); a durable journal of them would be written where they are
 * queued (queueRetry) and replayed by flushRetries.
 */
import assert from 'node:assert';
import type { AppliedRate, CallFacts, CdrRecord } from '../cdr/types.js';
import { timed } from '../observability/metrics.js';
import { billCall } from './cdr.js';
import { RETRY_MS, stopTimers, type EngineContext, type LiveCall, type LiveCalls } from './live-calls.js';
import { durably } from './redis.js';
import type { SettleResult } from './types.js';

/** Settled-call markers (idempotency of finish and of the sweeper) are kept this long. */
const DONE_TTL_SECONDS = 7 * 24 * 3600;

/** What a call is billed from (a LiveCall is one). */
interface Grant { rate: AppliedRate | null; granted: number; reserved: boolean }

/** The CDR of a call billed min(talk, granted seconds). */
export function bill(facts: CallFacts, rate: AppliedRate | null, granted: number, instanceId: string): CdrRecord {
  const cdr = billCall(facts, rate, granted, instanceId);
  assert.ok(cdr.durationMs <= granted * 1000, 'a call is billed past its grant');
  return cdr;
}

const summaryOf = (cdr: CdrRecord): string => `${cdr.chargeFen}|${cdr.billableSeconds}`;

/** Settlement of one engine's calls. */
export class Settlement {
  private cancelRetry: (() => void) | null = null;

  constructor(private readonly ctx: EngineContext, private readonly state: LiveCalls) {}

  async finish(facts: CallFacts): Promise<SettleResult> {
    const c = this.state.live.get(facts.callId);
    if (c) {
      c.exhausted = true; // no more slice requests or cut for this call
      stopTimers(c);
      if (c.extendDone) await c.extendDone; // its reply may shrink the grant
      stopTimers(c);
    }
    const { instanceId } = this.ctx;
    const g = await this.grantOf(facts, c);
    if (!g) {
      this.queueRetry(facts.callId, async () => void (await this.finish(facts)));
      // provisional answer: what this instance let the call run (the replay bills what Redis really holds)
      const cdr = bill(facts, c?.rate ?? null, c?.granted ?? 0, instanceId);
      if (c) return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
      return { chargeFen: 0n, billableSeconds: 0, cdr, duplicate: false };
    }
    const cdr = bill(facts, g.rate, g.granted, instanceId);
    const tenantId = facts.tenantId ?? c?.tenantId ?? '';
    const run = g.reserved ? () => this.settleWithin(facts, c, tenantId, g, cdr) : () => this.recordUnreserved(cdr, 'call.settled');
    try {
      const out = await run();
      this.state.live.delete(facts.callId);
      return out;
    } catch (e) {
      // Redis unreachable: keep the settlement and replay it (idempotent) until Redis answers
      (c?.log ?? this.ctx.log).error({ err: (e as Error).message }, 'settlement deferred: Redis unreachable');
      this.state.live.delete(facts.callId);
      this.queueRetry(facts.callId, async () => void (await run()));
      return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
    }
  }

  async recordRejected(facts: CallFacts): Promise<void> {
    const cdr = billCall(facts, null, 0, this.ctx.instanceId);
    const run = async () => void (await this.recordUnreserved(cdr, 'call.rejected'));
    try {
      await run();
    } catch (e) {
      this.ctx.log.error({ callId: facts.callId, err: (e as Error).message }, 'rejected-call record deferred: Redis unreachable');
      this.queueRetry(facts.callId, run);
    }
  }

  /** settle.lua for a call holding a reservation; `reclaim`: by the sweeper, only if its lease has still run out
   * (else it throws 'lease still valid'). */
  async settleReserved(callId: string, tenantId: string, cdr: CdrRecord, reclaim = false): Promise<SettleResult> {
    const { redis, k, cfg, clock } = this.ctx;
    const shard = k.shardOfTenant(tenantId);
    const reply = await timed('redis', 'charging_settle', () => durably(redis, 'settle', 'chargeSettle',
      k.call(shard, callId), k.done(shard, callId), k.buckets(tenantId), k.bucketMeta(tenantId), k.leases(shard), k.outbox(shard), k.calls(tenantId),
      callId, clock.now(), cdr.chargeFen, JSON.stringify(cdr), cfg.consumptionOrder, reclaim ? '1' : '0', DONE_TTL_SECONDS, summaryOf(cdr),
    ));
    if (reply[0] === 'dup') {
      const [charge, billable] = String(reply[1]).split('|');
      return { chargeFen: BigInt(charge!), billableSeconds: Number(billable) || 0, cdr, duplicate: true };
    }
    if (reply[0] === 'missing') return this.recordUnreserved(cdr, 'call.settled'); // Redis lost the call: charge what is there
    if (reply[0] === 'leased') throw new Error('lease still valid');
    return { chargeFen: BigInt(cdr.chargeFen), billableSeconds: cdr.billableSeconds, cdr, duplicate: false };
  }

  /** Replay the queued settlements now; stops at the first one Redis still refuses. */
  async flushRetries(): Promise<void> {
    const { retries } = this.state;
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

  /** No more timed replays. */
  stop(): void {
    this.cancelRetry?.();
  }

  /** This instance's grant; or, for a call not ours (e.g. a restarted instance) or whose slice reply was lost, what
   * Redis knows of it. Null when Redis cannot be read. */
  private async grantOf(facts: CallFacts, c: LiveCall | undefined): Promise<Grant | null> {
    if (c && !(c.reserved && c.uncertain)) return c; // the call's own grant (no copy on the common path)
    const { redis, k } = this.ctx;
    let h: (string | null)[];
    try {
      const shard = k.shardOf(facts.tenantId ?? c?.tenantId, facts.callId);
      h = await timed('redis', 'charging_call_read', () => redis.hmget(k.call(shard, facts.callId), 'rate', 'granted'));
    } catch (e) {
      this.ctx.log.error({ callId: facts.callId, err: (e as Error).message }, 'settlement deferred: Redis unreachable');
      return null;
    }
    if (!h[0]) return { rate: c?.rate ?? null, granted: c?.granted ?? 0, reserved: false };
    // never bill past what this instance let the call run, nor past what Redis holds for it
    return { rate: JSON.parse(h[0]) as AppliedRate, granted: c ? Math.min(c.granted, Number(h[1])) : Number(h[1]), reserved: true };
  }

  /** settle.lua; when Redis holds a shorter grant than this instance let the call run (a slice request whose write
   * was lost with a failed master, docs/scaling.md), bill what Redis holds: the rest of the talk time is not charged. */
  private settleWithin(facts: CallFacts, c: LiveCall | undefined, tenantId: string, g: Grant, cdr: CdrRecord): Promise<SettleResult> {
    return this.settleReserved(facts.callId, tenantId, cdr).catch(async (e: unknown) => {
      if (!/charge exceeds hold/.test(String((e as Error)?.message))) throw e;
      const { redis, k } = this.ctx;
      const held = Number((await redis.hget(k.call(k.shardOfTenant(tenantId), facts.callId), 'granted')) ?? '0');
      const capped = bill(facts, g.rate, Math.min(g.granted, held), this.ctx.instanceId);
      (c?.log ?? this.ctx.log).warn({ callId: facts.callId, granted: g.granted, redisGranted: held }, 'grant in Redis shorter than the one used: billing the Redis grant');
      return this.settleReserved(facts.callId, tenantId, capped);
    });
  }

  private async recordUnreserved(cdr: CdrRecord, type: 'call.settled' | 'call.rejected'): Promise<SettleResult> {
    const { redis, k, cfg, clock } = this.ctx;
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
    assert.ok(got >= 0n && got <= BigInt(cdr.chargeFen), 'record.lua charged an unreserved call more than it was rated');
    if (got !== BigInt(cdr.chargeFen)) this.ctx.log.warn({ callId: cdr.callId, rated: cdr.chargeFen, charged: got.toString() }, 'unreserved call could not be fully charged');
    return { chargeFen: got, billableSeconds: cdr.billableSeconds, cdr: { ...cdr, chargeFen: got.toString() }, duplicate: false };
  }

  private queueRetry(callId: string, fn: () => Promise<void>): void {
    this.state.retries.set(callId, fn);
    this.armRetry();
  }

  private armRetry(): void {
    const { clock } = this.ctx;
    if (this.cancelRetry || this.state.closed || this.state.retries.size === 0) return;
    this.cancelRetry = clock.at(clock.now() + RETRY_MS, () => {
      this.cancelRetry = null;
      this.state.track(this.flushRetries().finally(() => this.armRetry()));
    });
  }
}
