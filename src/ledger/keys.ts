/**
 * Every idempotency key of a ledger transfer is built here (docs/ledger.md lists them): the same business event
 * always makes the same key, so posting it again is a no-op (same content) or an IdempotencyConflictError
 * (src/ledger/errors.ts; other content). Two kinds are made in Lua as outbox event ids and posted under that id:
 * `expire:<bucketId>:<seq>` (src/charging/lua/lib.lua) and `refund:<refundId>:<bucketId>`
 * (src/charging/lua/refund.lua); refundKey and refundIdOf below are their TypeScript side.
 */

/** A paid top-up or a gift, under the operator's key (CLI --idempotency-key, API Idempotency-Key). */
export const topUpKey = (operatorKey: string): string => `topup:${operatorKey}`;

/** The paid bucket of an order's prepaid packages, credited once its package receivable is paid. */
export const orderPrepaidKey = (orderNo: string): string => `order:${orderNo}:prepaid`;

/** The receivable of an order's prepaid packages. */
export const orderReceivableKey = (orderNo: string): string => `order:${orderNo}:receivable`;

/** The rent of one number for the rent period starting on `periodStartDay` (YYYY-MM-DD in the service zone). */
export const rentKey = (numberId: bigint, periodStartDay: string): string => `rent:${numberId}:${periodStartDay}`;

/** The late fee of one receivable for one overdue day (YYYY-MM-DD in the service zone). */
export const lateFeeKey = (receivableId: bigint, day: string): string => `late:${receivableId}:${day}`;

/** The part of one late fee taken back because a payment, dated before that fee's day, covered the debt it ran on. */
export const lateFeeReversalKey = (lateFeeReceivableId: bigint, paymentId: bigint): string => `late_reversal:${lateFeeReceivableId}:${paymentId}`;

/** The early-termination fee (art. 4.6) of the order in force. */
export const earlyTerminationKey = (orderNo: string): string => `early_termination:${orderNo}`;

/** A payment received, under its bank or cash reference. */
export const paymentKey = (reference: string): string => `payment:${reference}`;

/** A call's charge to one of the buckets it debited. */
export const callChargeKey = (callId: string, bucketId: string): string => `call:${callId}:${bucketId}`;

/** One paid bucket's refund of a refund run (the id refund.lua gives its outbox event). */
export const refundKey = (refundId: string, bucketId: string): string => `refund:${refundId}:${bucketId}`;

/** The refund run a refund key belongs to, or null for any other key. */
export function refundIdOf(key: string): string | null {
  const m = /^refund:([0-9]+):[0-9]+$/.exec(key);
  return m ? m[1]! : null;
}
