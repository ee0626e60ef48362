/** Operations: the reconcile report, the outbox and its dead letters, the audit log, API tokens. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { auditList } from '../../services/audit.js';
import { discardDeadLetter, listDeadLetters, listDiscardedLetters, outboxStatus, replayDeadLetter } from '../../services/outbox.js';
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

  const DeadParam = Type.Object({ deadId: Type.String({ pattern: '^[0-9]{1,4}:[0-9]{1,20}-[0-9]{1,20}$', description: '<shard>:<stream id> as GET /v1/outbox/dead lists it' }) }, { additionalProperties: false });
  const DeadLetter = Type.Object({ id: Type.String(), streamId: Type.String(), reason: Type.String(), consumer: Type.String(), at: Type.Integer({ description: 'epoch ms it was dead-lettered' }), event: Type.String({ description: 'the raw event text' }) });
  app.get('/v1/outbox', {
    config: { access: 'staff' },
    schema: {
      summary: 'The CDR/ledger outbox: events waiting for PostgreSQL (pending + undelivered), the oldest, dead letters, per shard', tags: ['operations'],
      response: { 200: Type.Object({ backlog: Type.Integer(), pending: Type.Integer(), undelivered: Type.Integer(), deadLetters: Type.Integer(), oldestId: Nullable(Type.String()), oldestAt: Nullable(Type.Integer()) }, { additionalProperties: true }), ...errors(401, 403) },
    },
  }, async (req) => outboxStatus(s, actorOf(req)));
  app.get('/v1/outbox/dead', {
    config: { access: 'staff' },
    schema: {
      summary: 'Dead-lettered events (poison, or refused by PostgreSQL) with the reason, oldest first', tags: ['operations'],
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ deadLetters: Type.Array(DeadLetter) }), ...errors(400, 401, 403) },
    },
  }, async (req) => ({ deadLetters: await listDeadLetters(s, actorOf(req), { limit: (req.query as { limit?: number }).limit }) }));
  app.post('/v1/outbox/dead/:deadId/replay', {
    config: { access: 'admin' },
    schema: {
      summary: 'Put a dead letter back into the outbox once its cause is fixed (still poison: it comes back with a new reason); audited', tags: ['operations'],
      params: DeadParam, response: { 200: Type.Object({ deadId: Type.String(), outboxId: Type.String() }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => replayDeadLetter(s, actorOf(req), { deadId: (req.params as { deadId: string }).deadId }));
  app.post('/v1/outbox/dead/:deadId/discard', {
    config: { access: 'admin' },
    schema: {
      summary: 'Remove a dead letter for good, losing nothing: archived in PostgreSQL (raw event, reasons, actor) before it leaves Redis; audited. 409 when it was replayed or discarded concurrently', tags: ['operations'],
      params: DeadParam,
      body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500, description: 'why it is discarded; kept in the archive and the audit log' }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ deadId: Type.String(), archiveId: Id, tenants: Type.Array(Id) }), ...errors(400, 401, 403, 404, 409) },
    },
  }, async (req) => discardDeadLetter(s, actorOf(req), { deadId: (req.params as { deadId: string }).deadId, reason: (req.body as { reason: string }).reason }));
  app.get('/v1/outbox/discarded', {
    config: { access: 'staff' },
    schema: {
      summary: 'Dead letters discarded so far (outbox_dead_archive), newest first: the raw event, why it was dead-lettered, why it was discarded and by whom', tags: ['operations'],
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 100 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          discarded: Type.Array(Type.Object({
            archiveId: Id, deadId: Type.String(), streamId: Type.String(), deadReason: Type.String(), consumer: Type.String(), deadAt: Nullable(DateTime),
            event: Type.String({ description: 'the raw event as UTF-8 text (bytes that are not UTF-8 show as U+FFFD; the archive keeps them exact)' }),
            tenants: Type.Array(Id), reason: Type.String(), actorKind: Type.String(), actorId: Type.String(), discardedAt: DateTime,
            removedAt: Nullable(DateTime), // null: the discard stopped before Redis (running it again finishes it)
          })),
        }),
        ...errors(400, 401, 403),
      },
    },
  }, async (req) => ({ discarded: await listDiscardedLetters(s, actorOf(req), { limit: (req.query as { limit?: number }).limit }) }));

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
