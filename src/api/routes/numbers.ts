/** Real-name numbers: assignment with document references, the review queue, and review decisions with a reason. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServiceDeps } from '../../services/context.js';
import { cnyInput } from '../../services/common.js';
import { addDocuments, addNumber, getNumber, listNumbers, reviewNumber, reviewQueue, type DocumentRef, type ReviewAction } from '../../services/numbers.js';
import type { NumberState } from '../../tenants/rules.js';
import { actorOf, tenantRef } from '../auth.js';
import { Cny, errors, Reason, TenantParam } from '../schemas.js';

const NumberRef = Type.Ref('Number');
const E164Param = Type.Object({ e164: Type.String({ pattern: '^\\+?[0-9]{6,16}$', description: 'E.164, e.g. +8657188880000 (URL-encode the +)' }) }, { additionalProperties: false });
const States = Type.Union(['pending_review', 'approved', 'suspended', 'rejected', 'reclaimed'].map((v) => Type.Literal(v)));

export function registerNumberRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.get('/v1/numbers', {
    config: { access: 'staff' },
    schema: {
      summary: 'Numbers with their documents (all, or one tenant\'s, or one state\'s)', tags: ['numbers'],
      querystring: Type.Object({ tenant: Type.Optional(TenantParam.properties.tenant), state: Type.Optional(States) }, { additionalProperties: false }),
      response: { 200: Type.Object({ numbers: Type.Array(NumberRef) }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; state?: NumberState };
    return { numbers: await listNumbers(s, actorOf(req), { tenant: q.tenant === undefined ? undefined : tenantRef(req, q.tenant), state: q.state }) };
  });

  app.get('/v1/numbers/review-queue', {
    config: { access: 'staff' },
    schema: { summary: 'The real-name review queue: numbers waiting for a decision, oldest first, with their documents', tags: ['numbers'], response: { 200: Type.Object({ numbers: Type.Array(NumberRef) }), ...errors(401, 403) } },
  }, async (req) => ({ numbers: await reviewQueue(s, actorOf(req)) }));

  app.get('/v1/numbers/:e164', {
    config: { access: 'any' },
    schema: { summary: 'One number with its documents (a tenant token: only its own)', tags: ['numbers'], params: E164Param, response: { 200: NumberRef, ...errors(400, 401, 404) } },
  }, async (req) => getNumber(s, actorOf(req), (req.params as { e164: string }).e164));

  app.get('/v1/tenants/:tenant/numbers', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s numbers with their review state', tags: ['numbers'], params: TenantParam, response: { 200: Type.Object({ numbers: Type.Array(NumberRef) }), ...errors(401, 404) } },
  }, async (req) => ({ numbers: await listNumbers(s, actorOf(req), { tenant: tenantRef(req, (req.params as { tenant: string }).tenant) }) }));

  app.post('/v1/tenants/:tenant/numbers', {
    config: { access: 'admin' },
    schema: {
      summary: 'Give a real-name number to a tenant, pending review, with its document references (art. 4.2)', tags: ['numbers'], params: TenantParam,
      body: Type.Object({
        e164: Type.String({ maxLength: 30 }),
        rent: Type.Optional(Cny),
        rentPeriod: Type.Optional(Type.Union([Type.Literal('month'), Type.Literal('year')], { description: 'default year' })),
        documents: Type.Optional(Type.Array(Type.Ref('DocumentRef'), { maxItems: 20 })),
      }, { additionalProperties: false }),
      response: { 201: NumberRef, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const b = req.body as { e164: string; rent?: string; rentPeriod?: 'month' | 'year'; documents?: DocumentRef[] };
    const n = await addNumber(s, actorOf(req), {
      tenant: tenantRef(req, (req.params as { tenant: string }).tenant), e164: b.e164,
      rent: { amountFen: b.rent === undefined ? 0n : cnyInput('body.rent', b.rent), period: b.rentPeriod ?? 'year' }, documents: b.documents ?? [],
    });
    return reply.code(201).send(n);
  });

  app.post('/v1/numbers/:e164/documents', {
    config: { access: 'admin' },
    schema: {
      summary: 'Add document references to a number; a rejected number goes back to the review queue', tags: ['numbers'], params: E164Param,
      body: Type.Object({ documents: Type.Array(Type.Ref('DocumentRef'), { minItems: 1, maxItems: 20 }) }, { additionalProperties: false }),
      response: { 200: NumberRef, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => addDocuments(s, actorOf(req), (req.params as { e164: string }).e164, (req.body as { documents: DocumentRef[] }).documents));

  const actions: [ReviewAction, string, boolean][] = [
    ['approve', 'Approve after qualification review (or reinstate a suspended number)', false],
    ['reject', 'Reject the documents in review (a reason is required; new documents reopen the review)', true],
    ['suspend', 'Suspend an approved number (a reason is required), e.g. the carrier demands new documents', true],
    ['reclaim', 'Reclaim a number from its tenant (final for that tenant)', false],
  ];
  for (const [action, summary, needsReason] of actions) {
    app.post(`/v1/numbers/:e164/${action}`, {
      config: { access: 'admin' },
      schema: {
        summary, tags: ['numbers'], params: E164Param,
        body: needsReason
          ? Type.Object({ reason: Reason }, { additionalProperties: false })
          : Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: NumberRef, ...errors(400, 401, 403, 404) },
      },
    }, async (req) => reviewNumber(s, actorOf(req), (req.params as { e164: string }).e164, action, (req.body as { reason?: string } | undefined)?.reason ?? null));
  }
}
