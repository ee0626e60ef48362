/**
 * API tokens (migration 006 + 020): `sst_` + 32 random bytes (base64url), stored only as SHA-256, shown once at
 * issue. Roles: operator-admin (everything), operator-read (every read, no write), tenant (its own tenant only).
 * A token is refused when revoked, expired, or when its tenant is terminated. The configured API_OPERATOR_TOKEN is
 * an operator-admin bootstrap token (to issue the first real ones).
 */
import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../util/secrets.js';
import { recordAudit } from '../store/audit.js';
import { insertToken, listTokens as selectTokens, revokeToken as markRevoked, tokenBySha256, type TokenRecord } from '../store/tokens.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, resolveTenant, tx } from './common.js';
import { InputError, NotFoundError } from './errors.js';

export const ROLES = ['operator-admin', 'operator-read', 'tenant'] as const;
export type Role = (typeof ROLES)[number];

const TOKEN = /^sst_[A-Za-z0-9_-]{43}$/;

export type TokenInfo = TokenRecord;

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
  const k = await tokenBySha256(deps.pool, sha256(token).toString('hex'));
  if (!k) return { refused: 'unknown token' };
  if (k.revokedAt) return { refused: 'token revoked' };
  if (k.expiresAt && k.expiresAt.getTime() <= deps.now().getTime()) return { refused: 'token expired' };
  if (k.role === 'tenant' && k.tenantStatus === 'terminated') return { refused: 'the tenant of this token is terminated' };
  const id = `token:${k.id}`;
  const actor: Actor = k.role === 'tenant' ? { kind: 'tenant', id, tenantId: k.tenantId! } : { kind: 'operator', id, ...(k.role === 'operator-read' ? { readOnly: true } : {}) };
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
    const row = await insertToken(c, { tenantId: t?.id ?? null, sha256Hex: sha256(token).toString('hex'), label, role: input.role, expiresAt: input.expiresAt ?? null });
    const out: TokenInfo = { id: row.id, role: input.role, tenantId: t?.id ?? null, tenantCode: t?.code ?? null, label, createdAt: row.createdAt, expiresAt: input.expiresAt ?? null, revokedAt: null };
    await recordAudit(c, { actor, action: 'api-token.issue', targetType: 'api_token', targetId: row.id, tenantId: t?.id ?? null, after: out });
    return out;
  });
  return { token, info };
}

export async function listTokens(deps: ServiceDeps, actor: Actor, filter: { tenant?: string | bigint } = {}): Promise<TokenInfo[]> {
  requireStaff(actor, 'API tokens');
  const tenantId = filter.tenant === undefined ? null : (await resolveTenant(deps, actor, filter.tenant)).id;
  return selectTokens(deps.pool, tenantId);
}

/** Revoke a token (refused from the next request on). An unknown or already revoked id is NotFound. */
export async function revokeToken(deps: ServiceDeps, actor: Actor, id: bigint): Promise<{ id: bigint; revokedAt: Date }> {
  requireWriter(actor, 'revoking API tokens');
  return tx(deps, async (c) => {
    const row = await markRevoked(c, id, deps.now());
    if (!row) throw new NotFoundError(`no active API token with id ${id}`);
    await recordAudit(c, { actor, action: 'api-token.revoke', targetType: 'api_token', targetId: id, tenantId: row.tenantId, before: { revokedAt: null }, after: { revokedAt: row.revokedAt } });
    return { id, revokedAt: row.revokedAt };
  });
}
