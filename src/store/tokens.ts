/** SQL of API tokens (api_tokens; migrations 006, 020): stored only as the SHA-256 of the token. */
import type { Queryable } from '../db/tx.js';

export interface TokenRecord {
  id: bigint;
  role: 'operator-admin' | 'operator-read' | 'tenant';
  tenantId: bigint | null;
  tenantCode: string | null;
  label: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** The token with this SHA-256 (hex) and its tenant's status, or null. */
export async function tokenBySha256(db: Queryable, sha256Hex: string): Promise<{ id: bigint; role: TokenRecord['role']; tenantId: bigint | null; expiresAt: Date | null; revokedAt: Date | null; tenantStatus: string | null } | null> {
  const k = (await db.query<{ id: bigint; role: TokenRecord['role']; tenant_id: bigint | null; expires_at: Date | null; revoked_at: Date | null; status: string | null }>(
    `select k.id, k.role, k.tenant_id, k.expires_at, k.revoked_at, t.status
       from api_tokens k left join tenants t on t.id = k.tenant_id where k.token_sha256 = $1`,
    [sha256Hex],
  )).rows[0];
  return k ? { id: k.id, role: k.role, tenantId: k.tenant_id, expiresAt: k.expires_at, revokedAt: k.revoked_at, tenantStatus: k.status } : null;
}

export async function insertToken(
  db: Queryable, t: { tenantId: bigint | null; sha256Hex: string; label: string; role: TokenRecord['role']; expiresAt: Date | null },
): Promise<{ id: bigint; createdAt: Date }> {
  const row = (await db.query<{ id: bigint; created_at: Date }>(
    `insert into api_tokens (tenant_id, token_sha256, label, role, expires_at) values ($1, $2, $3, $4, $5) returning id, created_at`,
    [t.tenantId?.toString() ?? null, t.sha256Hex, t.label, t.role, t.expiresAt],
  )).rows[0]!;
  return { id: row.id, createdAt: row.created_at };
}

/** Tokens (of one tenant, or all: null) with their tenant's code, oldest first. */
export async function listTokens(db: Queryable, tenantId: bigint | null): Promise<TokenRecord[]> {
  const r = await db.query<{ id: bigint; role: TokenRecord['role']; tenant_id: bigint | null; code: string | null; label: string; created_at: Date; expires_at: Date | null; revoked_at: Date | null }>(
    `select k.id, k.role, k.tenant_id, t.code, k.label, k.created_at, k.expires_at, k.revoked_at
       from api_tokens k left join tenants t on t.id = k.tenant_id
      where $1::int8 is null or k.tenant_id = $1 order by k.id`,
    [tenantId?.toString() ?? null],
  );
  return r.rows.map((k) => ({ id: k.id, role: k.role, tenantId: k.tenant_id, tenantCode: k.code, label: k.label, createdAt: k.created_at, expiresAt: k.expires_at, revokedAt: k.revoked_at }));
}

/** Revoke an active token at `at`; null when there is no such token or it was revoked before. */
export async function revokeToken(db: Queryable, id: bigint, at: Date): Promise<{ tenantId: bigint | null; revokedAt: Date } | null> {
  const row = (await db.query<{ tenant_id: bigint | null; revoked_at: Date }>(
    'update api_tokens set revoked_at = $2 where id = $1 and revoked_at is null returning tenant_id, revoked_at',
    [id.toString(), at],
  )).rows[0];
  return row ? { tenantId: row.tenant_id, revokedAt: row.revoked_at } : null;
}
