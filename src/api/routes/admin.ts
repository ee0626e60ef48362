/** Operations: the reconcile report, the audit log, API tokens. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { auditList } from '../../services/audit.js';
import type { ServiceDeps } from '../../services/context.js';
import { reconcileReport } from '../../services/reconcile.js';
import { issueToken, listTokens, revokeToken, ROLES, type Role } from '../../services/tokens.js';
import { actorOf, tenantRef } from '../auth.js';
import { DateTime, errors, Id, Instant, Nullable, TenantParam } from '../schemas.js';
import { instant } from './common.js';

const TokenInfo = Type.Object({
  id: Id, role: Type.String(), tenantId: Nullable(Id), tenantCode: Nullable(Type.String()), label: Type.String(), createdAt: DateTime,
  expiresAt: Nullable(DateTime), revokedAt: Nullable(DateTime),
});

export function registerAdminRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.get('/v1/reconcile', {
    config: { access: 'staff' },
    schema: {
      summary: 'Reconcile report: each tenant\'s Redis balance against the ledger, counting money held by live calls and charges in the outbox (read-only)', tags: ['operations'],
      querystring: Type.Object({ tenant: Type.Optional(TenantParam.properties.tenant) }, { additionalProperties: false }),
      response: { 200: Type.Object({ checked: Type.Integer(), driftTenants: Type.Integer(), driftFen: Type.String(), tenants: Type.Array(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string };
    return reconcileReport(s, actorOf(req), { tenant: q.tenant === undefined ? undefined : tenantRef(req, q.tenant) });
  });

  app.get('/v1/audit', {
    config: { access: 'staff' },
    schema: {
      summary: 'The append-only audit log of operator and CLI writes, newest first; page with beforeId = nextBeforeId', tags: ['operations'],
      querystring: Type.Object({
        tenant: Type.Optional(TenantParam.properties.tenant),
        action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,79}$', description: 'e.g. tenant.suspend, credit.top-up' })),
        since: Type.Optional(Instant), until: Type.Optional(Instant),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        beforeId: Type.Optional(Id),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          entries: Type.Array(Type.Object({
            id: Id, at: DateTime, actorKind: Type.String(), actorId: Type.String(), action: Type.String(), targetType: Type.String(), targetId: Nullable(Type.String()),
            tenantId: Nullable(Id), before: Type.Unknown(), after: Type.Unknown(), detail: Type.Unknown(),
          })),
          nextBeforeId: Nullable(Id),
        }),
        ...errors(400, 401, 403, 404),
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; action?: string; since?: string; until?: string; limit?: number; beforeId?: string };
    const r = await auditList(s, actorOf(req), {
      tenant: q.tenant === undefined ? undefined : tenantRef(req, q.tenant), action: q.action, since: instant('query.since', q.since), until: instant('query.until', q.until),
      limit: q.limit, ...(q.beforeId ? { beforeId: BigInt(q.beforeId) } : {}),
    });
    return { entries: r.rows, nextBeforeId: r.nextBeforeId };
  });

  app.get('/v1/api-tokens', {
    config: { access: 'staff' },
    schema: {
      summary: 'API tokens (ids, roles, labels, dates; never the tokens)', tags: ['operations'],
      querystring: Type.Object({ tenant: Type.Optional(TenantParam.properties.tenant) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string };
    return { tokens: await listTokens(s, actorOf(req), { tenant: q.tenant === undefined ? undefined : tenantRef(req, q.tenant) }) };
  });

  app.post('/v1/api-tokens', {
    config: { access: 'admin' },
    schema: {
      summary: 'Issue a token; the answer holds the token, shown this once (only its SHA-256 is stored)', tags: ['operations'],
      body: Type.Object({
        role: Type.Union(ROLES.map((r) => Type.Literal(r))),
        tenant: Type.Optional(TenantParam.properties.tenant),
        label: Type.Optional(Type.String({ maxLength: 100 })),
        expiresAt: Type.Optional(Instant),
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ token: Type.String(), info: TokenInfo }), ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const b = req.body as { role: Role; tenant?: string; label?: string; expiresAt?: string };
    const r = await issueToken(s, actorOf(req), { role: b.role, tenant: b.tenant, label: b.label, expiresAt: instant('body.expiresAt', b.expiresAt) ?? null });
    return reply.code(201).send(r);
  });

  app.delete('/v1/api-tokens/:id', {
    config: { access: 'admin' },
    schema: {
      summary: 'Revoke a token (refused from its next request on)', tags: ['operations'],
      params: Type.Object({ id: Id }, { additionalProperties: false }),
      response: { 200: Type.Object({ id: Id, revokedAt: DateTime }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => revokeToken(s, actorOf(req), BigInt((req.params as { id: string }).id)));
}
