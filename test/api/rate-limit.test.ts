/**
 * The API's limits before and after authentication, on a real migrated test database and the real HTTP server:
 * requests are limited per client address before any database work (rotating made-up tokens cannot buy unlimited
 * token look-ups: a failed authentication counts as several requests), and per token after authentication. The
 * token look-ups are counted on the pool the API runs on (every query it sends, matched by the api_tokens SQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config.js';
import { addressKey } from '../../src/api/address-limit.js';
import { createHttpServer } from '../../src/api/http-server.js';
import type { Pool } from '../../src/db/pool.js';
import { Readiness } from '../../src/observability/readiness.js';
import { issueToken } from '../../src/services/tokens.js';
import { createLogger } from '../../src/util/logger.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { SYSTEM, testServices } from '../helpers/services.js';

let db: TestDb;
let lookups = 0;
let counting: Pool;

beforeAll(async () => {
  db = await createTestDb();
  // the same pool, with every query it runs seen first: a token look-up is the select on api_tokens by its hash
  const real = db.pool;
  counting = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          const sql = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text ?? '';
          if (/from api_tokens k left join tenants/.test(sql)) lookups += 1;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
});
afterAll(async () => db.drop());

const fake = () => `sst_${randomBytes(32).toString('base64url')}`;

async function server(overrides: Record<string, unknown>) {
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, ...overrides });
  // the address limiter's clock stands still: no bucket refills while a loaded machine runs the test
  const http = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services: testServices(counting, { config }), clock: () => 1_800_000_000_000 });
  const port = (await http.listen()).port;
  const get = (token: string | null, path = '/v1/me') => fetch(`http://127.0.0.1:${port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { http, get };
}

describe('API rate limits', () => {
  it('N made-up tokens from one address: 429 once the address limit is spent, and PostgreSQL sees no more token look-ups than it allows', async () => {
    // 40 requests a minute per address; a failed authentication counts as 10 of them
    const { http, get } = await server({ 'api.addressRateLimitPerMinute': 40, 'api.rateLimitPerMinute': 1000 });
    try {
      lookups = 0;
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) statuses.push((await get(fake())).status);
      expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(statuses.slice(4).every((s) => s === 429)).toBe(true);
      expect(lookups).toBe(4);
      const limited = await get(fake());
      expect(limited.headers.get('retry-after')).toMatch(/^[0-9]+$/);
      expect(((await limited.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/from this address/) });
      expect(lookups).toBe(4);
      // probes are never limited
      expect((await fetch(`http://127.0.0.1:${(http.app.server.address() as { port: number }).port}/healthz`)).status).toBe(200);
    } finally {
      await http.close();
    }
  });

  it('good requests from one address are limited per address, and each valid token keeps its own limit', async () => {
    const { token: a } = await issueToken(testServices(db.pool), SYSTEM, { role: 'operator-read', label: 'a' });
    const { token: b } = await issueToken(testServices(db.pool), SYSTEM, { role: 'operator-read', label: 'b' });
    const { http, get } = await server({ 'api.addressRateLimitPerMinute': 12, 'api.rateLimitPerMinute': 5 });
    try {
      const byA: number[] = [];
      for (let i = 0; i < 7; i++) byA.push((await get(a)).status);
      expect(byA).toEqual([200, 200, 200, 200, 200, 429, 429]); // token a's own limit
      const byB: number[] = [];
      for (let i = 0; i < 7; i++) byB.push((await get(b)).status);
      expect(byB).toEqual([200, 200, 200, 200, 200, 429, 429]); // 12 of the address's 12 used: b's 5 and a's 7
      expect((await get(b)).status).toBe(429);
      const last = await get(a);
      expect(((await last.json()) as { error: { message: string } }).error.message).toMatch(/from this address/);
    } finally {
      await http.close();
    }
  });

  it('a request without a token costs like a failed authentication and never reaches PostgreSQL', async () => {
    const { http, get } = await server({ 'api.addressRateLimitPerMinute': 20 });
    try {
      lookups = 0;
      expect([(await get(null)).status, (await get(null)).status, (await get(null)).status]).toEqual([401, 401, 429]);
      expect(lookups).toBe(0);
    } finally {
      await http.close();
    }
  });
});

describe('the address a request is counted under (pure)', () => {
  it('IPv4 as it is (also inside ::ffff:), IPv6 by its /64: one host owning a /64 is one client', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff::9')).toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
