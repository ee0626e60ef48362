/**
 * Tenant API tokens: `sst_` + 32 random bytes (base64url). Only the SHA-256 is stored (api_tokens, migration 006),
 * so a database leak does not leak usable tokens; the plain token is returned once, at issue time.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from '../db/pool.js';

export type Db = Pool | PoolClient;

const TOKEN = /^sst_[A-Za-z0-9_-]{43}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function looksLikeTenantToken(token: string): boolean {
  return TOKEN.test(token);
}

export async function issueApiToken(db: Db, tenantId: bigint, label = ''): Promise<{ id: bigint; token: string }> {
  if (label.length > 100) throw new RangeError('token label longer than 100 characters');
  const exists = await db.query('select 1 from tenants where id = $1', [tenantId]);
  if (exists.rowCount === 0) throw new RangeError(`no tenant with id ${tenantId}`);
  const token = 'sst_' + randomBytes(32).toString('base64url');
  const r = await db.query<{ id: bigint }>('insert into api_tokens (tenant_id, token_sha256, label) values ($1, $2, $3) returning id', [
    tenantId,
    hashToken(token),
    label,
  ]);
  return { id: r.rows[0]!.id, token };
}

/** Revoke a token; false when there is no such unrevoked token. */
export async function revokeApiToken(db: Db, tokenId: bigint): Promise<boolean> {
  const r = await db.query('update api_tokens set revoked_at = now() where id = $1 and revoked_at is null', [tokenId]);
  return r.rowCount === 1;
}

/** The tenant a live token belongs to, or null (unknown or revoked). */
export async function tenantOfToken(db: Db, token: string): Promise<bigint | null> {
  if (!looksLikeTenantToken(token)) return null;
  const r = await db.query<{ tenant_id: bigint }>('select tenant_id from api_tokens where token_sha256 = $1 and revoked_at is null', [hashToken(token)]);
  return r.rows[0]?.tenant_id ?? null;
}
