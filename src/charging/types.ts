/**
 * The charging engine as the SIP layer sees it. Implementation: src/charging/engine.ts (issue 3).
 *
 * Life of a call:
 *   authorize() at INVITE  → refusal, or a Grant (rate found, balance > 0, call registered as pending)
 *   answered()  at 200 OK  → metering starts; the engine reserves slices in Redis and calls onExhausted
 *                            at the second the tenant's credit runs out for this call
 *   finish()    at the end → idempotent settlement: the charge is written in Redis and the CDR+ledger
 *                            event is put in the outbox in the same atomic step
 * Every call that got a Grant must be finished exactly once (answered or not); finishing twice is a no-op.
 * Calls refused before a Grant are recorded with recordRejected().
 */
import type { AppliedRate, CallFacts, CdrRecord } from '../cdr/types.js';

export type RefusalReason =
  | 'no_balance'
  | 'suspended'
  | 'period_not_started'
  | 'period_ended'
  | 'no_rate'
  | 'limit'
  | 'store_down';

export interface AuthorizeRequest {
  callId: string;
  tenantId: string;
  calledNumber: string; // normalized national digits used for rating (e.g. 8613800138000 → see rating/normalize)
  at: number; // epoch ms
  failurePolicy: 'terminate' | 'continue';
}

export type AuthorizeResult =
  | { ok: true; rate: AppliedRate; maxSeconds: number }
  | { ok: false; reason: RefusalReason; detail: string };

export interface Metering {
  /** Seconds from answer the call may last with what is granted now (changes as slices/top-ups come). */
  readonly grantedUntil: number; // epoch ms
  /** Stop local timers (called by finish; safe to call twice). */
  stop(): void;
}

export interface SettleResult {
  chargeFen: bigint;
  billableSeconds: number;
  cdr: CdrRecord;
  duplicate: boolean; // true when this call was already settled (nothing charged again)
}

export interface ChargingEngine {
  authorize(req: AuthorizeRequest): Promise<AuthorizeResult>;
  /** Start metering at answer; onExhausted(cutAtMs) fires once when the call must be cut. */
  answered(callId: string, answerAt: number, onExhausted: (cutAtMs: number) => void): Promise<Metering>;
  finish(facts: CallFacts): Promise<SettleResult>;
  recordRejected(facts: CallFacts): Promise<void>;
}
