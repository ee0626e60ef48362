/**
 * The charging engine as the SIP layer sees it. Implementation: src/charging/engine.ts.
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

/**
 * Low-credit warning of a call: onWarning(cutAtMs) fires once, `leadMs` before the latest the call can last: its
 * grant end when the grant is final (no more credit can be had), or earlier, the horizon a slice request reported
 * when the tenant's whole available balance could not pay the next slice (extend.lua's third reply). A top-up that
 * carries the call further re-arms it for the new end. It changes nothing of metering or billing, except that such
 * a call asks for its next slice early enough (leadMs + 2 s before the grant ends) to learn the horizon in time.
 */
export interface LowCreditWarning {
  leadMs: number;
  onWarning(cutAtMs: number): void;
}

export interface ChargingEngine {
  authorize(req: AuthorizeRequest): Promise<AuthorizeResult>;
  /** Start metering at answer; onExhausted(cutAtMs) fires once when the call must be cut. */
  answered(callId: string, answerAt: number, onExhausted: (cutAtMs: number) => void, warning?: LowCreditWarning): Promise<Metering>;
  finish(facts: CallFacts): Promise<SettleResult>;
  recordRejected(facts: CallFacts): Promise<void>;
}
