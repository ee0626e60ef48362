/**
 * Idempotency-Key records (migration 020): the first result of a write is stored with a SHA-256 of its request, in
 * the same transaction as the write. The same key again with the same request returns the stored result (a replay,
 * nothing done twice); with another request it is a ConflictError (HTTP 409). Keys are per scope (operation).
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from '../db/pool.js';
import type { Actor } from './context.js';
import { ConflictError, InputError } from './errors.js';

export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,150}$/;

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

export interface Stored {
  status: number;
  response: unknown;
}

/**
 * Inside the caller's transaction: lock the key, then either the stored result (same request) or null (first use;
 * the caller does the write and calls `save`). Another request under the key throws ConflictError.
 */
export async function claimKey(c: PoolClient, scope: string, key: string, hash: string): Promise<Stored | null> {
  await c.query('select pg_advisory_xact_lock(hashtextextended($1, 2))', [`${scope}:${key}`]);
  const r = await c.query<{ request_sha256: string; status: number; response: unknown }>(
    'select request_sha256, status, response from idempotency_keys where scope = $1 and key = $2',
    [scope, key],
  );
  const row = r.rows[0];
  if (!row) return null;
  if (row.request_sha256 !== hash) throw new ConflictError(`Idempotency-Key ${JSON.stringify(key)} was already used with another request`);
  return { status: row.status, response: row.response };
}

export async function saveKey(c: PoolClient, scope: string, key: string, hash: string, actor: Actor, stored: Stored): Promise<void> {
  await c.query(
    `insert into idempotency_keys (scope, key, request_sha256, status, response, actor_kind, actor_id) values ($1, $2, $3, $4, $5::jsonb, $6, $7)`,
    [scope, key, hash, stored.status, canonical(stored.response), actor.kind, actor.id],
  );
}
