/**
 * The one HTTP listener (config http.host/http.port), on Fastify: the probes (/metrics, /healthz, /readyz), the
 * JSON API v1 (/v1/..., bearer tokens with roles, rate limits per client address and per token, body limits,
 * schema-validated input), its
 * OpenAPI 3.1 document (/openapi.json) with an interactive page (/docs), and the web portal (/portal/).
 * Errors are `{"error":{"code","message","field"?}}`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../config/config.js';
import { metrics, registry } from '../observability/metrics.js';
import type { Readiness } from '../observability/readiness.js';
import type { ServiceDeps } from '../services/context.js';
import type { Logger } from '../util/logger.js';
import { projectPath } from '../util/paths.js';
import { errorResponse } from './errors.js';
import { addressGate } from './address-limit.js';
import { registerAuth } from './auth.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { registerApiRoutes, type ExtraRoutes } from './routes/index.js';

interface HttpServerDeps {
  config: Config;
  logger: Logger;
  readiness: Readiness;
  /** With services the API v1 and the portal are served; without, only the probes (tests of the probes). */
  services?: ServiceDeps;
  /** More /v1 routes (e.g. billing's), registered with the same auth, limits and error format. */
  extraRoutes?: ExtraRoutes[];
  /** /metrics body; default this thread's registry (src/workers: the primary's and every worker's, aggregated). */
  metricsText?: () => Promise<string>;
  /** clock of the per-address limit, in ms (default Date.now; tests hold it still) */
  clock?: () => number;
}

export interface HttpServer {
  app: FastifyInstance;
  /** Start listening on config http.host:http.port (port 0 = any free port); resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

export type App = FastifyInstance;

/** JSON with bigint as decimal strings (money is bigint fen; never a float on the wire) and Dates as ISO text. */
export function toJson(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const { config } = deps;
  const log = deps.logger.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.api.bodyLimitBytes,
    // A slow or stuck client must not hold sockets forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  // Response schemas document the API; bodies are serialized here so bigint fen stays exact.
  app.setSerializerCompiler(() => (data) => toJson(data));
  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  app.addHook('onRequest', async (req) => {
    (req as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (req, reply) => {
    // the route pattern, not the concrete URL, keeps label cardinality bounded
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    const started = (req as { startedAt?: bigint }).startedAt;
    if (started !== undefined) metrics.httpDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  });
  // A write without a body is validated as {} (so "no body" and "{}" mean the same, and a missing field is named).
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.method !== 'GET' && req.method !== 'HEAD') req.body = {};
  });
  app.setErrorHandler((e, req, reply) => {
    const r = errorResponse(e);
    if (r.internal) log.error({ err: e, url: req.url }, 'HTTP handler failed');
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    void reply.code(r.status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(r.body);
  });
  // 405 with Allow when the path exists with other methods (Fastify itself only knows 404)
  const known: { method: string; path: RegExp }[] = [];
  app.addHook('onRoute', (r) => {
    // an API route without query parameters refuses any: a typo must not silently widen or change a query
    if (r.url.startsWith('/v1/') && r.schema && !r.schema.querystring) r.schema.querystring = Type.Object({}, { additionalProperties: false });
    const path = new RegExp('^' + r.url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/') + '/?$');
    for (const m of [r.method].flat()) known.push({ method: m, path });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allow = [...new Set(known.filter((k) => k.path.test(path) && k.method !== 'HEAD').map((k) => k.method))];
    if (allow.length > 0) {
      void reply.code(405).header('allow', allow.join(', ')).type('application/json; charset=utf-8')
        .send({ error: { code: 'method_not_allowed', message: `${req.method} is not allowed here; allowed: ${allow.join(', ')}` } });
      return;
    }
    void reply.code(404).type('application/json; charset=utf-8').send({ error: { code: 'not_found', message: `no such endpoint: ${req.method} ${path}` } });
  });

  const ready = app.register(async (root) => {
    await root.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'softswitch API',
          version: '1',
          description:
            'Operator and tenant API of the prepaid softswitch. Bearer tokens (`softswitch api-token issue`) with roles ' +
            'operator-admin, operator-read, tenant. Money is integer fen as decimal strings (`*Fen`). A tenant token sees only ' +
            'its own tenant: any other tenant\'s object answers 404, exactly like one that does not exist.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'sst_… API token or the configured API_OPERATOR_TOKEN' } } },
        security: [{ bearer: [] }],
      },
      refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });
    await root.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { deepLinking: true, tryItOutEnabled: true } });
    await root.register(fastifyRateLimit, {
      global: false,
      max: config.api.rateLimitPerMinute,
      timeWindow: 60_000,
      // per verified token (it runs after authentication): its id, or the configured bootstrap token
      keyGenerator: (req) => `tok:${req.principal?.tokenId ?? 'bootstrap'}`,
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        error: { code: 'rate_limited', message: `more than ${ctx.max} requests per minute for this token; retry after ${ctx.after}` },
      }),
    });

    root.get('/openapi.json', {
      schema: { summary: 'This API as an OpenAPI 3.1 document', tags: ['meta'], security: [], response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) } },
    }, async () => root.swagger());

    registerProbes(root, deps.readiness, deps.metricsText ?? (() => registry.metrics()));

    if (deps.services) {
      const services = deps.services;
      await root.register(async (v1) => {
        registerAuth(v1, services, addressGate(config.api.addressRateLimitPerMinute, deps.clock));
        registerApiRoutes(v1, services, deps.extraRoutes ?? []);
      });
      await root.register(fastifyStatic, { root: projectPath('portal'), prefix: '/portal/', index: 'index.html', schemaHide: true, cacheControl: false });
      root.get('/portal', { schema: { hide: true } }, (_req, reply) => reply.redirect('/portal/', 302));
      root.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect('/portal/', 302));
    }
  });

  return {
    app,
    listen: async () => {
      await ready;
      await app.listen({ port: config.http.port, host: config.http.host });
      const a = app.server.address() as { address: string; port: number };
      log.info({ host: a.address, port: a.port }, 'HTTP server listening');
      return { host: a.address, port: a.port };
    },
    close: async () => {
      await app.close();
    },
  };
}

const Health = Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Integer() });
const Ready = Type.Object({
  ready: Type.Boolean(),
  down: Type.Array(Type.String()),
  components: Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.String()])),
  optional: Type.Optional(Type.Array(Type.String(), { description: 'components whose being down does not make the instance unready (e.g. media)' })),
  details: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Boolean()), { description: 'per-part detail, e.g. drachtio: { "host:port": true }' })),
});

/** Probes: no auth, no rate limit. Their store probes are throttled (src/observability/probes.ts). */
function registerProbes(app: FastifyInstance, readiness: Readiness, metricsText: () => Promise<string>): void {
  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (text exposition)', tags: ['probes'], security: [], produces: ['text/plain'], response: { 200: Type.String() } },
  }, async (_req, reply) => {
    // Runs the readiness probes first so softswitch_component_up is fresh at every scrape, not only when
    // something polls /readyz.
    await readiness.check();
    const body = await metricsText();
    return reply.header('cache-control', 'no-store').type(registry.contentType).serializer((x) => String(x)).send(body);
  });
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process is alive (never checks dependencies)', tags: ['probes'], security: [], response: { 200: Health } },
  }, async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));
  app.get('/readyz', {
    schema: { summary: 'Readiness: drachtio, Redis, PostgreSQL, outbox consumer up and not draining', tags: ['probes'], security: [], response: { 200: Ready, 503: Ready } },
  }, async (_req, reply) => {
    const r = await readiness.check();
    const down = Object.entries(r.components).filter(([, v]) => v !== true).map(([k]) => k);
    return reply.code(r.ready ? 200 : 503).header('cache-control', 'no-store').send({ ready: r.ready, down, components: r.components, ...(r.details ? { details: r.details } : {}), ...(r.optional ? { optional: r.optional } : {}) });
  });
}
