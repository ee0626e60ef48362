/**
 * API tokens (migration 006 + 020): `sst_` + 32 random bytes (base64url), stored only as SHA-256, shown once at
 * issue. Roles: operator-admin (everything), operator-read (every read, no write), tenant (its own tenant only).
 * A token is refused when revoked, expired, or when its tenant is terminated. The configured API_OPERATOR_TOKEN is
 * an operator-admin bootstrap token (to issue the first real ones).
 */
import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../util/secrets.js';
import { recordAudit } from '../audit/audit.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, resolveTenant, tx } from './common.js';
import { InputError, NotFoundError } from './errors.js';

export const ROLES = ['operator-admin', 'operator-read', 'tenant'] as const;
export type Role = (typeof ROLES)[number];

const TOKEN = /^sst_[A-Za-z0-9_-]{43}$/;

export interface TokenInfo {
  id: bigint;
  role: Role;
  tenantId: bigint | null;
  tenantCode: string | null;
  label: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface Principal {
  role: Role;
  /** null for the bootstrap token from the configuration */
  tokenId: bigint | null;
  actor: Actor;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The principal of a bearer token, or why it is refused. */
export async function authenticateToken(deps: ServiceDeps, token: string): Promise<Principal | { refused: string }> {
  const bootstrap = deps.config.api.operatorToken;
  if (bootstrap !== '' && sameSecret(token, bootstrap)) {
    return { role: 'operator-admin', tokenId: null, actor: { kind: 'operator', id: 'bootstrap-token' } };
  }
  if (!TOKEN.test(token)) return { refused: 'unknown token' };
  const r = await deps.pool.query<{ id: bigint; role: Role; tenant_id: bigint | null; expires_at: Date | null; revoked_at: Date | null; status: string | null }>(
    `select k.id, k.role, k.tenant_id, k.expires_at, k.revoked_at, t.status
       from api_tokens k left join tenants t on t.id = k.tenant_id where k.token_sha256 = $1`,
    [sha256(token).toString('hex')],
  );
  const k = r.rows[0];
  if (!k) return { refused: 'unknown token' };
  if (k.revoked_at) return { refused: 'token revoked' };
  if (k.expires_at && k.expires_at.getTime() <= deps.now().getTime()) return { refused: 'token expired' };
  if (k.role === 'tenant' && k.status === 'terminated') return { refused: 'the tenant of this token is terminated' };
  const id = `token:${k.id}`;
  const actor: Actor = k.role === 'tenant' ? { kind: 'tenant', id, tenantId: k.tenant_id! } : { kind: 'operator', id, ...(k.role === 'operator-read' ? { readOnly: true } : {}) };
  return { role: k.role, tokenId: k.id, actor };
}

export async function issueToken(
  deps: ServiceDeps, actor: Actor, input: { role: Role; tenant?: string | bigint; label?: string; expiresAt?: Date | null },
): Promise<{ token: string; info: TokenInfo }> {
  requireWriter(actor, 'issuing API tokens');
  if (!(ROLES as readonly string[]).includes(input.role)) throw new InputError('role', `allowed ${ROLES.join(', ')}`);
  const label = input.label ?? '';
  if (label.length > 100) throw new InputError('label', 'at most 100 characters');
  if (input.role === 'tenant' && input.tenant === undefined) throw new InputError('tenant', 'a tenant token needs its tenant');
  if (input.role !== 'tenant' && input.tenant !== undefined) throw new InputError('tenant', 'an operator token belongs to no tenant');
  if (input.expiresAt && input.expiresAt.getTime() <= deps.now().getTime()) throw new InputError('expiresAt', 'must be in the future');
  const t = input.tenant === undefined ? null : await resolveTenant(deps, actor, input.tenant);
  if (t?.status === 'terminated') throw new InputError('tenant', `tenant ${t.code} is terminated`);
  const token = 'sst_' + randomBytes(32).toString('base64url');
  const info = await tx(deps, async (c) => {
    const r = await c.query<{ id: bigint; created_at: Date }>(
      `insert into api_tokens (tenant_id, token_sha256, label, role, expires_at) values ($1, $2, $3, $4, $5) returning id, created_at`,
      [t?.id.toString() ?? null, sha256(token).toString('hex'), label, input.role, input.expiresAt ?? null],
    );
    const row = r.rows[0]!;
    const out: TokenInfo = { id: row.id, role: input.role, tenantId: t?.id ?? null, tenantCode: t?.code ?? null, label, createdAt: row.created_at, expiresAt: input.expiresAt ?? null, revokedAt: null };
    await recordAudit(c, { actor, action: 'api-token.issue', targetType: 'api_token', targetId: row.id, tenantId: t?.id ?? null, after: out });
    return out;
  });
  return { token, info };
}

export async function listTokens(deps: ServiceDeps, actor: Actor, filter: { tenant?: string | bigint } = {}): Promise<TokenInfo[]> {
  requireStaff(actor, 'API tokens');
  const tenantId = filter.tenant === undefined ? null : (await resolveTenant(deps, actor, filter.tenant)).id;
  const r = await deps.pool.query<{ id: bigint; role: Role; tenant_id: bigint | null; code: string | null; label: string; created_at: Date; expires_at: Date | null; revoked_at: Date | null }>(
    `select k.id, k.role, k.tenant_id, t.code, k.label, k.created_at, k.expires_at, k.revoked_at
       from api_tokens k left join tenants t on t.id = k.tenant_id
      where $1::int8 is null or k.tenant_id = $1 order by k.id`,
    [tenantId?.toString() ?? null],
  );
  return r.rows.map((k) => ({ id: k.id, role: k.role, tenantId: k.tenant_id, tenantCode: k.code, label: k.label, createdAt: k.created_at, expiresAt: k.expires_at, revokedAt: k.revoked_at }));
}

/** Revoke a token (refused from the next request on). An unknown or already revoked id is NotFound. */
export async function revokeToken(deps: ServiceDeps, actor: Actor, id: bigint): Promise<{ id: bigint; revokedAt: Date }> {
  requireWriter(actor, 'revoking API tokens');
  return tx(deps, async (c) => {
    const r = await c.query<{ tenant_id: bigint | null; revoked_at: Date }>(
      'update api_tokens set revoked_at = $2 where id = $1 and revoked_at is null returning tenant_id, revoked_at',
      [id.toString(), deps.now()],
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError(`no active API token with id ${id}`);
    await recordAudit(c, { actor, action: 'api-token.revoke', targetType: 'api_token', targetId: id, tenantId: row.tenant_id, before: { revokedAt: null }, after: { revokedAt: row.revoked_at } });
    return { id, revokedAt: row.revoked_at };
  });
}
