/** Refusals of the ledger (src/ledger/ledger.ts) and of every writer that keys its work by a ledger key. */

type LedgerErrorCode = 'invalid_transfer' | 'idempotency_conflict' | 'overdraw' | 'unknown_account' | 'unknown_bucket';

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

/**
 * The same idempotency key again with other content: refused, nothing changed. Thrown wherever a key is compared
 * with what was recorded under it: a ledger transfer, a credit, a payment reference, a receivable, an API
 * Idempotency-Key. The CLI exits 2; the HTTP API answers 409 conflict.
 */
export class IdempotencyConflictError extends LedgerError {
  constructor(
    readonly key: string,
    message: string,
    detail: Record<string, unknown> = {},
  ) {
    super('idempotency_conflict', message, { key, ...detail });
    this.name = 'IdempotencyConflictError';
  }
}
