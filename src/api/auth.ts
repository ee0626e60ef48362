/**
 * Who calls the API v1: `Authorization: Bearer <token>` only (anything else is 401). The token's role decides what a
 * route allows (route config `access`); which tenant's data an answer may hold is decided again by the service
 * operation from the actor, so a tenant token can never reach another tenant (contract art. 6).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, ServiceDeps } from '../services/context.js';
import { InputError } from '../services/errors.js';
import { authenticateToken, type Principal } from '../services/tokens.js';
import type { AddressGate } from './address-limit.js';
import { HttpError, unauthorized } from './errors.js';

/**
 * any: every valid token (a tenant token is scoped to its tenant by the service); staff: operator-read and
 * operator-admin; admin: operator-admin only; self-or-admin: a tenant token for its own tenant, or operator-admin.
 */
type Access = 'any' | 'staff' | 'admin' | 'self-or-admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(h.trim());
  return m ? m[1]! : null;
}

export function allowed(access: Access, p: Principal): boolean {
  switch (access) {
    case 'any':
      return true;
    case 'staff':
      return p.role !== 'tenant';
    case 'admin':
      return p.role === 'operator-admin';
    case 'self-or-admin':
      return p.role === 'tenant' || p.role === 'operator-admin';
  }
}

/**
 * In this order: the limit per client address (before any database work; a failed authentication costs more), the
 * token, the limit per token (keyed by the token that was verified, never by the header as sent), the route's role
 * rule.
 */
export function registerAuth(app: FastifyInstance, services: ServiceDeps, gate: AddressGate): void {
  // rate deck uploads: the CSV text is the body (parsed by the rate import, not here)
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', gate.admit);
  app.addHook('onRequest', async (req) => {
    const token = bearerToken(req);
    const p = token ? await authenticateToken(services, token) : { refused: 'send Authorization: Bearer <token>' };
    if ('refused' in p) {
      gate.failed(req);
      throw unauthorized(p.refused);
    }
    req.principal = p;
  });
  app.addHook('onRequest', app.rateLimit());
  app.addHook('onRequest', async (req) => {
    const p = req.principal!;
    const access = req.routeOptions.config.access ?? 'admin';
    if (!allowed(access, p)) {
      throw new HttpError(403, 'forbidden', access === 'admin' || access === 'self-or-admin'
        ? `this needs an operator-admin token; this token's role is ${p.role}`
        : `this is for operators; this token's role is ${p.role}`);
    }
  });
}

export function actorOf(req: FastifyRequest): Actor {
  return req.principal!.actor;
}

/** A tenant path parameter as the service takes it: "me" is the token's own tenant. */
export function tenantRef(req: FastifyRequest, raw: string): string | bigint {
  if (raw !== 'me') return raw;
  const a = actorOf(req);
  if (a.kind !== 'tenant') throw new InputError('params.tenant', '"me" is the tenant of a tenant token; operators name a tenant by id or code');
  return a.tenantId!;
}
