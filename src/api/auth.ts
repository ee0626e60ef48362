/**
 * Who is calling the API: an operator (config api.operatorToken, sees every tenant) or one tenant (api_tokens row,
 * sees only itself; contract art. 6). `Authorization: Bearer <token>` only; anything else is 401.
 */
import type { IncomingMessage } from 'node:http';
import { sameSecret } from '../util/secrets.js';
import { unauthorized } from './errors.js';
import { tenantOfToken, type Db } from './tokens.js';

export type Principal = { kind: 'operator' } | { kind: 'tenant'; tenantId: bigint };

function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(h.trim());
  return m ? m[1]! : null;
}

export async function authenticate(req: IncomingMessage, db: Db, operatorToken: string): Promise<Principal> {
  const token = bearerToken(req);
  if (!token) throw unauthorized('send Authorization: Bearer <token>');
  if (operatorToken !== '' && sameSecret(token, operatorToken)) return { kind: 'operator' };
  const tenantId = await tenantOfToken(db, token);
  if (tenantId === null) throw unauthorized('unknown or revoked token');
  return { kind: 'tenant', tenantId };
}

/**
 * The tenant a request may read. A tenant naming another tenant gets the same 404 as for a tenant that does not
 * exist, so tokens cannot be used to discover other tenants.
 */
export function tenantScope(p: Principal, requested: bigint): bigint | null {
  if (p.kind === 'tenant') return requested === p.tenantId ? requested : null;
  return requested;
}
