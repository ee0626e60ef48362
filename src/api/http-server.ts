/**
 * The one HTTP listener (config http.host/http.port): /metrics for Prometheus, /healthz (process alive),
 * /readyz (every readiness probe up and not draining; the JSON body says what is down), plus the JSON API
 * routes given by the caller. Errors are JSON `{"error":{"code","message"}}`; unknown path 404, wrong method 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import { metrics, registry } from '../observability/metrics.js';
import type { Readiness } from '../observability/readiness.js';
import type { Logger } from '../util/logger.js';
import { HttpError } from './errors.js';
import { matchRoute, validateRoutes, type Route } from './router.js';

export interface HttpServerDeps {
  config: Config;
  logger: Logger;
  readiness: Readiness;
  routes?: Route[];
}

export interface HttpServer {
  server: Server;
  /** Start listening on config http.host:http.port (port 0 = any free port); resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/** JSON with bigint as decimal strings (money is bigint fen; never a float on the wire). */
function toJson(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function send(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  send(res, status, toJson(body), 'application/json; charset=utf-8', headers);
}

function builtinRoutes(readiness: Readiness): Route[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      // Runs the readiness probes first so softswitch_component_up is fresh at every scrape, not only when
      // something polls /readyz. Served as text, not through the JSON path.
      handler: async () => {
        await readiness.check();
        return { body: await registry.metrics(), headers: { 'content-type': registry.contentType } };
      },
    },
    { method: 'GET', path: '/healthz', handler: () => ({ body: { status: 'ok', uptimeSeconds: Math.round(process.uptime()) } }) },
    {
      method: 'GET',
      path: '/readyz',
      handler: async () => {
        const r = await readiness.check();
        const down = Object.entries(r.components).filter(([, v]) => v !== true).map(([k]) => k);
        return { status: r.ready ? 200 : 503, body: { ready: r.ready, down, components: r.components, ...(r.details ? { details: r.details } : {}), ...(r.optional ? { optional: r.optional } : {}) } };
      },
    },
  ];
}

export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const routes = [...builtinRoutes(deps.readiness), ...(deps.routes ?? [])];
  validateRoutes(routes);
  const log = deps.logger.child({ component: 'http' });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let routeLabel = 'unmatched';
    const end = metrics.httpDuration.startTimer();
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        throw new HttpError(400, 'bad_request', 'malformed request URL');
      }
      const m = matchRoute(routes, req.method ?? 'GET', url.pathname);
      if (m.kind === 'none') throw new HttpError(404, 'not_found', `no such endpoint: ${url.pathname}`);
      if (m.kind === 'method') {
        res.setHeader('allow', m.allow.join(', '));
        throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; allowed: ${m.allow.join(', ')}`);
      }
      routeLabel = m.route.path;
      const out = await m.route.handler({ req, url, params: m.params, logger: log });
      const ct = out.headers?.['content-type'];
      if (ct && !ct.startsWith('application/json')) send(res, out.status ?? 200, String(out.body), ct, out.headers);
      else sendJson(res, out.status ?? 200, out.body, out.headers);
    } catch (e) {
      if (e instanceof HttpError) {
        sendJson(res, e.status, { error: { code: e.code, message: e.message } });
      } else {
        log.error({ err: e, url: req.url }, 'HTTP handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'internal error; see the server log' } });
        else res.destroy();
      }
    } finally {
      metrics.httpRequests.inc({ route: routeLabel, status: String(res.statusCode) });
      end({ route: routeLabel });
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  // A slow or stuck client must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.config.http.port, deps.config.http.host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          log.info({ host: a.address, port: a.port }, 'HTTP server listening');
          resolve({ host: a.address, port: a.port });
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
