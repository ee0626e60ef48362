/** SQL of API Idempotency-Key records (idempotency_keys, migration 020): the first result of a write, per scope and key. */
import type { PoolClient } from '../db/pool.js';

/** Lock scope:key until the caller's transaction ends, then read what was stored under it (null: first use). */
export async function lockedKeyRecord(c: PoolClient, scope: string, key: string): Promise<{ requestSha256: string; status: number; response: unknown } | null> {
  await c.query('select pg_advisory_xact_lock(hashtextextended($1, 2))', [`${scope}:${key}`]);
  const row = (await c.query<{ request_sha256: string; status: number; response: unknown }>(
    'select request_sha256, status, response from idempotency_keys where scope = $1 and key = $2',
    [scope, key],
  )).rows[0];
  return row ? { requestSha256: row.request_sha256, status: row.status, response: row.response } : null;
}

/** Store the first result under scope:key (`response` is JSON text). */
export async function insertKeyRecord(
  c: PoolClient, r: { scope: string; key: string; requestSha256: string; status: number; response: string; actorKind: string; actorId: string },
): Promise<void> {
  await c.query(
    `insert into idempotency_keys (scope, key, request_sha256, status, response, actor_kind, actor_id) values ($1, $2, $3, $4, $5::jsonb, $6, $7)`,
    [r.scope, r.key, r.requestSha256, r.status, r.response, r.actorKind, r.actorId],
  );
}
