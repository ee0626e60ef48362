/**
 * Route table of the HTTP server: path patterns like `/v1/tenants/:tenant/cdrs`, matched segment by segment.
 * Pure; the route pattern (not the concrete URL) is the metric label, which keeps label cardinality bounded.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../util/logger.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  logger: Logger;
}

export interface RouteResult {
  status?: number; // default 200
  body: unknown; // serialized as JSON (bigint as decimal string)
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  path: string;
  handler(ctx: RouteContext): Promise<RouteResult> | RouteResult;
}

export type Match = { kind: 'found'; route: Route; params: Record<string, string> } | { kind: 'method'; allow: Method[] } | { kind: 'none' };

function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchPath(pattern: string, path: string): Record<string, string> | null {
  const p = segments(pattern);
  const s = segments(path);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const want = p[i]!;
    let got: string;
    try {
      got = decodeURIComponent(s[i]!);
    } catch {
      return null; // malformed %-escape: no route can match it
    }
    if (want.startsWith(':')) params[want.slice(1)] = got;
    else if (want !== got) return null;
  }
  return params;
}

/** Check a route table once at start-up: duplicate method+path pairs are programming errors. */
export function validateRoutes(routes: readonly Route[]): void {
  const seen = new Set<string>();
  for (const r of routes) {
    if (!r.path.startsWith('/')) throw new Error(`route path must start with /: ${r.path}`);
    const key = `${r.method} ${segments(r.path).map((s) => (s.startsWith(':') ? ':' : s)).join('/')}`;
    if (seen.has(key)) throw new Error(`duplicate route ${r.method} ${r.path}`);
    seen.add(key);
  }
}

export function matchRoute(routes: readonly Route[], method: string, path: string): Match {
  const allow: Method[] = [];
  for (const r of routes) {
    const params = matchPath(r.path, path);
    if (!params) continue;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { kind: 'found', route: r, params };
    allow.push(r.method);
  }
  return allow.length ? { kind: 'method', allow } : { kind: 'none' };
}
