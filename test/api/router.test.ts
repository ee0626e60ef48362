/** The route table: pattern matching, method handling, malformed URLs and duplicate routes (pure). */
import { describe, expect, it } from 'vitest';
import { matchRoute, validateRoutes, type Route } from '../../src/api/router.js';

const h = () => ({ body: null });
const routes: Route[] = [
  { method: 'GET', path: '/v1/tenants/:tenant/cdrs', handler: h },
  { method: 'GET', path: '/v1/tenants/:tenant', handler: h },
  { method: 'DELETE', path: '/v1/tenants/:tenant', handler: h },
];

describe('matchRoute', () => {
  it('binds path parameters, percent-decoded, and tolerates a trailing slash', () => {
    const m = matchRoute(routes, 'GET', '/v1/tenants/ac%2Dme/cdrs/');
    expect(m).toMatchObject({ kind: 'found', params: { tenant: 'ac-me' } });
    expect(m.kind === 'found' && m.route.path).toBe('/v1/tenants/:tenant/cdrs');
  });

  it('serves HEAD from the GET route, lists the allowed methods otherwise, and misses unknown paths', () => {
    expect(matchRoute(routes, 'HEAD', '/v1/tenants/7').kind).toBe('found');
    expect(matchRoute(routes, 'POST', '/v1/tenants/7')).toEqual({ kind: 'method', allow: ['GET', 'DELETE'] });
    expect(matchRoute(routes, 'GET', '/v1/tenants/7/bills')).toEqual({ kind: 'none' });
  });

  it('treats a malformed %-escape as no match instead of throwing', () => {
    expect(matchRoute(routes, 'GET', '/v1/tenants/%E0%A4%A/cdrs')).toEqual({ kind: 'none' });
  });
});

describe('validateRoutes', () => {
  it('refuses two routes for the same method and shape, and paths without a leading slash', () => {
    expect(() => validateRoutes([...routes, { method: 'GET', path: '/v1/tenants/:id', handler: h }])).toThrow(/duplicate route/);
    expect(() => validateRoutes([{ method: 'GET', path: 'metrics', handler: h }])).toThrow(/must start with/);
    expect(() => validateRoutes(routes)).not.toThrow();
  });
});
