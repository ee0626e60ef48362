/**
 * Is a failure to write an event worth retrying? Transient = the store is down or busy (retry later, ack nothing);
 * permanent = this event can never be written as it is (dead-letter it so it does not block the queue).
 * Unknown failures count as transient: blocking and alerting is better than parking a good event.
 */
import { LedgerError } from '../ledger/errors.js';

/** Thrown for an event whose content contradicts the database (permanent: the consumer dead-letters it). */
export class EventRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRejected';
  }
}

type FailureKind = 'transient' | 'permanent';

// SQLSTATE classes that depend on the event's content, not on the server's health
const PERMANENT_CLASSES = new Set(['22', '23']); // data exception, integrity constraint violation
const PERMANENT_CODES = new Set(['P0001']); // raise exception (e.g. an immutable table refusing a change)

export function classifyFailure(e: unknown): FailureKind {
  // LedgerError: overdraw, unknown bucket, idempotency conflict; EventRejected: e.g. a bucket of another tenant
  if (e instanceof LedgerError || e instanceof EventRejected) return 'permanent';
  const err = e as { code?: unknown };
  if (typeof err?.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    if (PERMANENT_CODES.has(err.code) || PERMANENT_CLASSES.has(err.code.slice(0, 2))) return 'permanent';
  }
  return 'transient';
}

export function describe(e: unknown): string {
  const err = e as { name?: string; code?: unknown; message?: string };
  const code = typeof err?.code === 'string' ? ` [${err.code}]` : '';
  return `${err?.name ?? 'Error'}${code}: ${err?.message ?? String(e)}`;
}
