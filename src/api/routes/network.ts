/** Ingress trunks, carrier gateways and rate decks (CSV upload validated row by row like the CLI, CSV download). */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ServiceDeps } from '../../services/context.js';
import { addGateway, addTrunk, enableGateway, enableTrunk, listGateways, listTrunks } from '../../services/network.js';
import { exportRateDeck, importRateDeck, listRatePlans } from '../../services/rates.js';
import { actorOf } from '../auth.js';
import { errors, Id, PlanName } from '../schemas.js';

const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$' });
const NameParam = Type.Object({ name: Name }, { additionalProperties: false });
const PlanParam = Type.Object({ plan: PlanName }, { additionalProperties: false });
const Trunk = Type.Object({ name: Type.String(), address: Type.String(), failurePolicy: Type.String(), enabled: Type.Boolean() });
const Gateway = Type.Object({
  name: Type.String(), host: Type.String(), port: Type.Integer(), transport: Type.String(), priority: Type.Integer(), weight: Type.Integer(), numberFormat: Type.String(), enabled: Type.Boolean(),
});

export function registerNetworkRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.get('/v1/trunks', {
    config: { access: 'staff' },
    schema: { summary: 'Ingress trunks (call-center source addresses accepted)', tags: ['network'], response: { 200: Type.Object({ trunks: Type.Array(Trunk) }), ...errors(401, 403) } },
  }, async (req) => ({ trunks: await listTrunks(s, actorOf(req)) }));
  app.post('/v1/trunks', {
    config: { access: 'admin' },
    schema: {
      summary: 'Accept INVITEs from a call-center trunk address, with its Redis-down policy (RFC 4006 CCFH)', tags: ['network'],
      body: Type.Object({
        name: Name, address: Type.String({ maxLength: 64, description: 'source IP address; calls are accepted from any source port of it' }),
        failurePolicy: Type.Optional(Type.Union([Type.Literal('terminate'), Type.Literal('continue')])),
      }, { additionalProperties: false }),
      response: { 201: Trunk, ...errors(400, 401, 403, 409) },
    },
  }, async (req, reply) => reply.code(201).send(await addTrunk(s, actorOf(req), req.body as Parameters<typeof addTrunk>[2])));

  app.get('/v1/gateways', {
    config: { access: 'staff' },
    schema: { summary: 'Carrier gateways in the order calls try them', tags: ['network'], response: { 200: Type.Object({ gateways: Type.Array(Gateway) }), ...errors(401, 403) } },
  }, async (req) => ({ gateways: await listGateways(s, actorOf(req)) }));
  app.post('/v1/gateways', {
    config: { access: 'admin' },
    schema: {
      summary: 'Add a carrier gateway: lower priority tried first, weighted random within a priority', tags: ['network'],
      body: Type.Object({
        name: Name, host: Type.String({ pattern: '^[A-Za-z0-9.\\-:[\\]]{1,253}$' }),
        port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
        transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')])),
        priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
        weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
        numberFormat: Type.Optional(Type.Union([Type.Literal('e164'), Type.Literal('national'), Type.Literal('international00')])),
        enabled: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      response: { 201: Gateway, ...errors(400, 401, 403, 409) },
    },
  }, async (req, reply) => reply.code(201).send(await addGateway(s, actorOf(req), req.body as Parameters<typeof addGateway>[2])));

  for (const [what, fn, Out] of [['trunks', enableTrunk, Trunk], ['gateways', enableGateway, Gateway]] as const) {
    for (const on of [true, false]) {
      app.post(`/v1/${what}/:name/${on ? 'enable' : 'disable'}`, {
        config: { access: 'admin' },
        schema: { summary: `${on ? 'Enable' : 'Disable'} a ${what.slice(0, -1)}`, tags: ['network'], params: NameParam, response: { 200: Out, ...errors(400, 401, 403, 404) } },
      }, async (req) => fn(s, actorOf(req), (req.params as { name: string }).name, on));
    }
  }

  app.get('/v1/rate-plans', {
    config: { access: 'staff' },
    schema: {
      summary: 'Rate plans with their entry and tenant counts', tags: ['rates'],
      response: { 200: Type.Object({ plans: Type.Array(Type.Object({ id: Id, name: Type.String(), entries: Type.Integer(), tenants: Type.Integer() })) }), ...errors(401, 403) },
    },
  }, async (req) => ({ plans: await listRatePlans(s, actorOf(req)) }));

  app.get('/v1/rate-plans/:plan/deck', {
    config: { access: 'staff' },
    schema: { summary: 'A plan\'s deck as CSV (the import format)', tags: ['rates'], params: PlanParam, produces: ['text/csv'], response: { 200: Type.String(), ...errors(400, 401, 403, 404) } },
  }, async (req, reply) => {
    let csv = '';
    await exportRateDeck(s, actorOf(req), (req.params as { plan: string }).plan, async (c) => {
      csv += c;
    });
    return reply.type('text/csv; charset=utf-8').serializer((x) => x as string).send(csv);
  });

  app.put('/v1/rate-plans/:plan/deck', {
    config: { access: 'admin' },
    bodyLimit: s.config.api.uploadLimitBytes,
    schema: {
      summary: 'Import a rate deck CSV (Content-Type: text/csv). Every row is validated first; any bad row and nothing is imported (400 listing every bad row with its line number)',
      description: 'Columns: prefix, price_per_minute (required), destination, initial_increment, subsequent_increment, connect_fee, minimum_seconds, effective_from, effective_to; see docs/cli.md. create=true creates the plan; replace=true removes its entries first.',
      tags: ['rates'], params: PlanParam, consumes: ['text/csv'],
      querystring: Type.Object({ create: Type.Optional(Type.Boolean()), replace: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      body: Type.String({ description: 'the CSV file' }),
      response: {
        200: Type.Object({ ok: Type.Literal(true), plan: Type.String(), rows: Type.Integer(), imported: Type.Integer(), created: Type.Boolean(), replaced: Type.Integer() }, { additionalProperties: true }),
        400: Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }), rows: Type.Optional(Type.Integer()), errorCount: Type.Optional(Type.Integer()), errors: Type.Optional(Type.Array(Type.Object({ line: Type.Integer(), message: Type.String() }))) }),
        ...errors(401, 403, 404, 413, 415),
      },
    },
  }, async (req, reply) => {
    const q = req.query as { create?: boolean; replace?: boolean };
    const r = await importRateDeck(s, actorOf(req), { plan: (req.params as { plan: string }).plan, source: Readable.from([req.body as string]), createPlan: q.create, replace: q.replace });
    if (!r.ok) {
      return reply.code(400).send({
        error: { code: 'bad_request', message: `rate deck refused, nothing imported: ${r.errorCount} problem(s) in ${r.rows} data row(s)`, field: 'body' },
        rows: r.rows, errorCount: r.errorCount, errors: r.errors,
      });
    }
    return r;
  });
}
