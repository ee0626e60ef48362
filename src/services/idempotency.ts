/**
 * Idempotency-Key records (migration 020): the first result of a write is stored with a SHA-256 of its request, in
 * the same transaction as the write. The same key again with the same request returns the stored result (a replay,
 * nothing done twice); with another request it is an IdempotencyConflictError (HTTP 409). Keys are per scope
 * (operation).
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from '../db/pool.js';
import { IdempotencyConflictError } from '../ledger/errors.js';
import { insertKeyRecord, lockedKeyRecord } from '../store/idempotency.js';
import type { Actor } from './context.js';
import { InputError } from './errors.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,150}$/;

/** JSON with bigint as decimal strings and object keys sorted, so equal requests hash equal. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Date)) {
      return Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return x === undefined ? null : x;
  });
}

export function requestHash(request: unknown): string {
  return createHash('sha256').update(canonical(request), 'utf8').digest('hex');
}

export function checkKey(key: string): string {
  if (!IDEMPOTENCY_KEY.test(key)) throw new InputError('Idempotency-Key', '1-150 printable ASCII characters without spaces');
  return key;
}

interface Stored {
  status: number;
  response: unknown;
}

/**
 * Inside the caller's transaction: lock the key, then either the stored result (same request) or null (first use;
 * the caller does the write and calls `save`). Another request under the key throws IdempotencyConflictError.
 */
export async function claimKey(c: PoolClient, scope: string, key: string, hash: string): Promise<Stored | null> {
  const row = await lockedKeyRecord(c, scope, key);
  if (!row) return null;
  if (row.requestSha256 !== hash) throw new IdempotencyConflictError(key, `Idempotency-Key ${JSON.stringify(key)} was already used with another request`);
  return { status: row.status, response: row.response };
}

export async function saveKey(c: PoolClient, scope: string, key: string, hash: string, actor: Actor, stored: Stored): Promise<void> {
  await insertKeyRecord(c, { scope, key, requestSha256: hash, status: stored.status, response: canonical(stored.response), actorKind: actor.kind, actorId: actor.id });
}
