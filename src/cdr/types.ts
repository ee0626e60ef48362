/**
 * One CDR per call attempt (answered, failed, canceled, rejected). Mirrors table `cdrs` (001_init.sql).
 * The SIP layer fills the call facts; the charging engine fills the rating and charge at settlement and
 * puts the whole record in the Redis outbox, from which it is written to PostgreSQL exactly once.
 */
/** Longest text field of a CDR (characters) the outbox accepts; the SIP door's limits (input-limits.ts) stay below. */
export const CDR_TEXT_MAX = 512;

export type CallResult = 'answered' | 'failed' | 'canceled' | 'rejected';
export type DisconnectSide = 'caller' | 'callee' | 'system';

/** Facts the SIP layer knows about a call; times are epoch milliseconds. */
export interface CallFacts {
  callId: string;
  aCallId: string;
  bCallId: string | null;
  tenantId: string | null; // bigint id as decimal string; null when rejected before the tenant was known
  caller: string; // normalized E.164 when known, else raw user part
  callee: string;
  ingressTrunk: string | null;
  gateway: string | null;
  inviteAt: number;
  ringAt: number | null;
  answerAt: number | null;
  endAt: number;
  sipStatus: number; // final status given to the A leg (200 for answered calls)
  result: CallResult;
  rejectReason: string | null; // e.g. no_balance, caller_id, limit, no_route, ingress, store_down
  disconnectSide: DisconnectSide | null;
  disconnectReason: string | null; // e.g. 'caller BYE', 'balance exhausted', 'operator suspension', 'drain'
}

/** The rate applied (copied into the CDR so re-rating is reproducible without the deck). */
export interface AppliedRate {
  ratePlanId: string;
  prefix: string;
  pricePerMinute: string; // decimal CNY, exact
  initialIncrement: number;
  subsequentIncrement: number;
  connectFee: string; // decimal CNY
  minimumSeconds: number;
  rounding: 'up' | 'down' | 'half-up';
}

export interface CdrRecord extends CallFacts {
  billableSeconds: number;
  durationMs: number;
  rate: AppliedRate | null;
  chargeFen: string; // bigint as decimal string (JSON-safe)
  instanceId: string;
}
