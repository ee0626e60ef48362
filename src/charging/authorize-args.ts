/**
 * The 26 positional arguments of authorize.lua (9 KEYS, then 17 ARGV), built from named values in the order the
 * script's header states. Pure. test/unit/authorize-args.test.ts checks every position against the header's
 * `KEYS[n]` / `ARGV[n]` names, which are also the script's locals.
 */
import type { KeyLayout } from './keys.js';

/** authorize.lua's ARGV by name (the header's names; units there). */
export interface AuthorizeInput {
  callId: string;
  tenantId: string;
  /** epoch ms */
  now: number;
  /** rate plan id the engine rated with ('' = none known) */
  planId: string;
  /** integer micro-CNY per minute */
  price: string;
  /** integer micro-CNY */
  connectFee: string;
  initIncr: number;
  subIncr: number;
  minSeconds: number;
  rounding: string;
  /** seconds asked for the first slice */
  firstSlice: number;
  /** seconds: the longest grant the call may reach */
  maxCall: number;
  /** consumption order */
  order: string;
  instanceId: string;
  /** epoch ms: the lease while the call rings */
  pendingLeaseEnd: number;
  /** AppliedRate JSON, or 'null' */
  rateJson: string;
  /** called number (rating digits) */
  callee: string;
}

/** KEYS then ARGV of authorize.lua, for durably(redis, 'authorize', 'chargeAuthorize', ...authorizeArgs(k, a)). */
export function authorizeArgs(k: KeyLayout, a: AuthorizeInput): (string | number)[] {
  const t = a.tenantId;
  const shard = k.shardOfTenant(t);
  return [
    // KEYS[1..9]: tenantKey, bucketsKey, metaKey, expSeqKey, callKey, doneKey, leasesKey, outboxKey, liveKey
    k.tenant(t), k.buckets(t), k.bucketMeta(t), k.expirySeq(t), k.call(shard, a.callId), k.done(shard, a.callId), k.leases(shard), k.outbox(shard), k.calls(t),
    // ARGV[1..17]
    a.callId, t, a.now, a.planId, a.price, a.connectFee, a.initIncr, a.subIncr, a.minSeconds, a.rounding,
    a.firstSlice, a.maxCall, a.order, a.instanceId, a.pendingLeaseEnd, a.rateJson, a.callee,
  ];
}
