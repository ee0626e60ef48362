/**
 * The HTTP API v1 end to end on a real, migrated PostgreSQL test database and real Redis (own key prefix), with the
 * contract's demo tenant seeded, a fresh world per test (tests run in any order): every route of /openapi.json is
 * claimed by a test that calls it (covers() beside each test; the route coverage test checks the claims), roles,
 * tenant isolation, Idempotency-Key on top-ups and gifts, real-name review, rate deck upload, audit rows of every
 * operator write, body and rate limits, and the OpenAPI 3.1 document validated against the official schema.
 */
import { createHash } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { loadConfig } from '../../src/config/config.js';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { seedDemo } from '../../src/demo/seed.js';
import { deadLetter, ensureGroup, listDead, readNew, withOutboxCommands } from '../../src/outbox/stream.js';
import { Readiness } from '../../src/observability/readiness.js';
import { postgresProbe } from '../../src/observability/probes.js';
import { createLogger } from '../../src/util/logger.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testChargingRedis, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { testServices } from '../helpers/services.js';

const BOOT = 'bootstrap-operator-token-0123456789';
/**
 * Every test gets its own world, built in beforeEach and torn down in afterEach: a database cloned from a migrated
 * template, its own Redis key prefix, the demo tenant seeded, the 'other' tenant, an HTTP server and four tokens.
 * Whatever else a test needs (the 'acme' tenant, its orders, a payment) it makes itself with the fixtures below, so
 * no test depends on another having run before it.
 */
let template: TestDb;
let db: TestDb;
let redis: ChargingRedis;
let prefix: string;
let http: HttpServer;
let base: string;
let clock = Date.now();
let probeQueries = 0;
const tok: Record<'admin' | 'read' | 'demo' | 'other', string> = { admin: '', read: '', demo: '', other: '' };
/** method + path of every call the running test makes (fixtures excluded), for the route check of covers() */
let current: { method: string; path: string; status: number }[] = [];
/** routes ('GET /v1/me', as in /openapi.json) that some test of this file claims to call, filled at collection time */
const claimed = new Set<string>();

function routeRegExp(route: string): { method: string; re: RegExp } {
  const [method, path] = route.split(' ') as [string, string];
  return { method, re: new RegExp('^' + path.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.') + '$') };
}

/**
 * Wraps a test body: the routes listed beside the test are claimed for it at collection time (the route coverage
 * test checks those claims against /openapi.json without running after anything), and when the test runs it fails
 * unless its own body called every route it claims.
 */
function covers<A extends unknown[]>(routes: string[], fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  for (const r of routes) claimed.add(r);
  return async (...args: A) => {
    await fn(...args);
    const notCalled = routes.filter((r) => {
      const { method, re } = routeRegExp(r);
      return !current.some((c) => c.method === method && re.test(c.path));
    });
    expect(notCalled, 'routes this test claims but did not call').toEqual([]);
  };
}

interface Res {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

async function call(method: string, path: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string; type?: string; fixture?: boolean } = {}): Promise<Res> {
  const token = opts.token === undefined ? tok.admin : opts.token;
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers ?? {}) };
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] = opts.type ?? 'text/csv';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!opts.fixture) current.push({ method, path: path.split('?')[0]!, status: res.status });
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** a fixture's call: must succeed, and does not count as the test calling the route */
async function setup(method: string, path: string, body: unknown, token: string = tok.admin): Promise<Res> {
  const r = await call(method, path, { body, token, fixture: true });
  expect(r.status, `fixture ${method} ${path}: ${r.text}`).toBeLessThan(300);
  return r;
}

/** the tenant 'acme' on the china-std plan */
async function acme(): Promise<void> {
  await setup('POST', '/v1/tenants', { code: 'acme', legalName: 'Acme Trading Co., Ltd.', ratePlan: 'china-std', notifyEmail: 'ops@acme.example' });
}

/** acme's paid order ACME-1 (1000.00 for 12 months) with the number +8657188881111, which goes to real-name review */
async function acmeOrder(): Promise<void> {
  await setup('POST', '/v1/tenants/acme/orders', { orderNo: 'ACME-1', packageAmount: '1000.00', validityMonths: 12, numbers: ['+8657188881111'], rent: '50.00', rentPeriod: 'month' });
}

/** acme's unpaid order ACME-3 (300.00) and the bank payment BANK-77 for it */
async function acmePayment(): Promise<void> {
  await setup('POST', '/v1/tenants/acme/orders', { orderNo: 'ACME-3', packageAmount: '300.00', validityMonths: 12, paid: false });
  await setup('POST', '/v1/tenants/acme/payments', { amount: '300.00', reference: 'BANK-77', orderNo: 'ACME-3' });
}

async function auditOf(action: string): Promise<any[]> {
  return (await db.pool.query(`select * from audit_log where action = $1 order by id`, [action])).rows;
}

/** a new database cloned from the migrated template (cheaper than migrating one per test) */
const cloneDb = (): Promise<TestDb> => createTestDb({ template: template.name });

beforeAll(async () => {
  template = await createTestDb();
  // a template database must have no connections while it is cloned
  await template.pool.end();
});

afterAll(async () => {
  await template?.drop();
});

beforeEach(async () => {
  current = [];
  clock = Date.now();
  probeQueries = 0;
  db = await cloneDb();
  prefix = testPrefix();
  redis = testChargingRedis(prefix);
  await seedDemo(db.pool, redis, { timeZone: 'Asia/Shanghai' });
  await db.pool.query(`insert into tenants (code, legal_name) values ('other', 'Other Co., Ltd.')`);
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, 'api.operatorToken': BOOT, 'api.bodyLimitBytes': 2048, 'api.uploadLimitBytes': 4096 });
  const services = testServices(db.pool, { config, redis, now: () => new Date(clock) });
  const readiness = new Readiness(1000);
  // the PostgreSQL probe over a pool that counts what reaches the database
  readiness.add('postgres', postgresProbe({ query: (sql: string) => ((probeQueries++), db.pool.query(sql)) }));
  http = createHttpServer({ config, logger: createLogger('silent'), readiness, services });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
  for (const [k, role, tenant] of [['admin', 'operator-admin'], ['read', 'operator-read'], ['demo', 'tenant', 'demo'], ['other', 'tenant', 'other']] as const) {
    const r = await call('POST', '/v1/api-tokens', { token: BOOT, body: { role, tenant, label: k }, fixture: true });
    expect(r.status, r.text).toBe(201);
    tok[k] = r.body.token;
  }
});

afterEach(async () => {
  await http?.close();
  redis?.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('OpenAPI 3.1 document and /docs', () => {
  it('serves /openapi.json that validates as OpenAPI 3.1 and an interactive page at /docs', covers(['GET /openapi.json'], async () => {
    const r = await call('GET', '/openapi.json', { token: null });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const v = new Validator();
    const res = await v.validate(r.body);
    expect(res.errors ?? [], JSON.stringify(res.errors)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(v.version).toBe('3.1');
    const docs = await fetch(base + '/docs/');
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger-ui');
  }));
});

describe('probes', () => {
  it('answer without a token; however often they are hit, PostgreSQL sees at most one probe query per second', covers(['GET /metrics', 'GET /healthz', 'GET /readyz'], async () => {
    const before = probeQueries;
    const started = Date.now();
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2 ? 'GET' : 'GET', i % 2 ? '/readyz' : '/metrics', { token: null })));
    for (let i = 0; i < 10; i++) await call('GET', '/readyz', { token: null });
    const seconds = (Date.now() - started) / 1000;
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(rs[1]!.body).toEqual({ ready: true, down: [], components: { postgres: true } });
    expect(rs[0]!.text).toContain('softswitch_component_up{component="postgres"} 1');
    expect(probeQueries - before).toBeGreaterThanOrEqual(1);
    expect(probeQueries - before).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    const h = await call('GET', '/healthz', { token: null });
    expect(h.body.status).toBe('ok');
  }));
});

describe('tokens and roles', () => {
  it('401 without or with a bad, revoked, expired token, or one whose tenant is terminated', covers(['GET /v1/me', 'POST /v1/tenants', 'GET /v1/tenants/{tenant}', 'POST /v1/tenants/{tenant}/terminate', 'GET /v1/api-tokens', 'POST /v1/api-tokens', 'DELETE /v1/api-tokens/{id}'], async () => {
    expect((await call('GET', '/v1/me', { token: null })).status).toBe(401);
    expect((await call('GET', '/v1/me', { token: 'sst_' + 'A'.repeat(43) })).body.error).toEqual({ code: 'unauthorized', message: 'unknown token' });
    const soon = await call('POST', '/v1/api-tokens', { body: { role: 'operator-read', label: 'short-lived', expiresAt: new Date(clock + 60_000).toISOString() } });
    expect(soon.status).toBe(201);
    expect((await call('GET', '/v1/me', { token: soon.body.token })).status).toBe(200);
    clock += 61_000;
    expect((await call('GET', '/v1/me', { token: soon.body.token })).body.error.message).toBe('token expired');
    // terminate a tenant: its token stops working at once
    await call('POST', '/v1/tenants', { body: { code: 'doomed', legalName: 'Doomed Ltd' } });
    const t = await call('POST', '/v1/api-tokens', { body: { role: 'tenant', tenant: 'doomed' } });
    expect((await call('GET', '/v1/tenants/me', { token: t.body.token })).status).toBe(200);
    const term = await call('POST', '/v1/tenants/doomed/terminate', { body: { reason: 'contract ended' } });
    expect(term.body).toMatchObject({ before: 'active', tenant: { status: 'terminated' }, redis: 'applied' });
    expect((await call('GET', '/v1/tenants/me', { token: t.body.token })).body.error.message).toMatch(/terminated/);
    // revoke
    const listed = await call('GET', '/v1/api-tokens?tenant=doomed', { token: tok.read });
    expect(listed.body.tokens).toHaveLength(1);
    expect(listed.text).not.toContain(t.body.token);
    const rev = await call('DELETE', `/v1/api-tokens/${t.body.info.id}`);
    expect(rev.status).toBe(200);
    expect((await call('DELETE', `/v1/api-tokens/${t.body.info.id}`)).status).toBe(404);
    expect((await auditOf('api-token.revoke')).length).toBe(1);
    // only the hash is stored
    const row = (await db.pool.query('select token_sha256 from api_tokens where id = $1', [t.body.info.id])).rows[0];
    expect(row.token_sha256).toBe(createHash('sha256').update(t.body.token).digest('hex'));
  }));

  it('403: operator-read may read but not write; a tenant token cannot reach operator routes', covers(['GET /v1/me', 'GET /v1/tenants', 'POST /v1/tenants/{tenant}/suspend', 'POST /v1/tenants/{tenant}/top-ups', 'GET /v1/trunks'], async () => {
    expect((await call('GET', '/v1/tenants', { token: tok.read })).body.tenants.length).toBeGreaterThanOrEqual(2);
    const w = await call('POST', '/v1/tenants/demo/suspend', { token: tok.read, body: {} });
    expect([w.status, w.body.error.code]).toEqual([403, 'forbidden']);
    expect((await call('GET', '/v1/trunks', { token: tok.demo })).status).toBe(403);
    expect((await call('POST', '/v1/tenants/demo/top-ups', { token: tok.demo, headers: { 'idempotency-key': 'x1' }, body: { amount: '1.00' } })).status).toBe(403);
    const me = await call('GET', '/v1/me', { token: tok.demo });
    expect(me.body).toMatchObject({ role: 'tenant', tenant: { code: 'demo' } });
  }));
});

describe('tenant isolation: another tenant\'s object is 404, never its data', () => {
  for (const [suffix, route] of [
    ['', ''], ['/balance', '/balance'], ['/limits', '/limits'], ['/notice-settings', '/notice-settings'], ['/announcements', '/announcements'],
    ['/numbers', '/numbers'], ['/orders', '/orders'], ['/calls', '/calls'], ['/cdrs', '/cdrs'], ['/cdrs/export.csv', '/cdrs/export.csv'], ['/bills/2026-11', '/bills/{month}'],
  ] as const) {
    it(`GET /v1/tenants/demo${suffix} with the other tenant's token`, covers([`GET /v1/tenants/{tenant}${route}`], async () => {
      const other = await call('GET', `/v1/tenants/demo${suffix}`, { token: tok.other });
      const missing = await call('GET', `/v1/tenants/nosuch${suffix}`, { token: tok.other });
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('not_found');
      expect(other.text).not.toContain('Demo Enterprise');
      expect(other.body.error.message.replace('demo', 'X')).toBe(missing.body.error.message.replace('nosuch', 'X'));
    }));
  }

  it('a number of another tenant is 404 too', covers(['GET /v1/numbers/{e164}'], async () => {
    expect((await call('GET', '/v1/numbers/%2B8657188880000', { token: tok.other })).status).toBe(404);
    expect((await call('GET', '/v1/numbers/%2B8657188880000', { token: tok.demo })).body).toMatchObject({ e164: '+8657188880000', state: 'approved' });
  }));
});

describe('tenants: create, notice settings, limits, suspend/resume, with audit rows', () => {
  it('creates a tenant (201), refuses a duplicate (409) and bad fields (400 naming the field)', covers(['POST /v1/tenants', 'GET /v1/tenants/{tenant}'], async () => {
    const r = await call('POST', '/v1/tenants', { body: { code: 'acme', legalName: 'Acme Trading Co., Ltd.', ratePlan: 'china-std', notifyEmail: 'ops@acme.example' } });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ tenant: { code: 'acme', status: 'active', notifyEmail: 'ops@acme.example' }, redis: 'applied' });
    expect((await call('POST', '/v1/tenants', { body: { code: 'acme', legalName: 'Again' } })).status).toBe(409);
    const bad = await call('POST', '/v1/tenants', { body: { code: 'Bad Code', legalName: 'x' } });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'body.code']);
    const missing = await call('POST', '/v1/tenants', { body: { code: 'x1' } });
    expect([missing.status, missing.body.error.field]).toEqual([400, 'body.legalName']);
    const extra = await call('POST', '/v1/tenants', { body: { code: 'x2', legalName: 'X', balance: 5 } });
    expect([extra.status, extra.body.error.field]).toEqual([400, 'body.balance']);
    const audit = await auditOf('tenant.create');
    expect(audit.find((a) => a.after.code === 'acme')).toMatchObject({ actor_kind: 'operator', actor_id: expect.stringMatching(/^token:\d+$/) });
    const one = await call('GET', '/v1/tenants/acme', { token: tok.read });
    expect(one.body.legalName).toBe('Acme Trading Co., Ltd.');
  }));

  it('notice settings: a tenant changes its own, null switches a channel off; audited with before/after', covers(['GET /v1/tenants/{tenant}/notice-settings', 'PATCH /v1/tenants/{tenant}/notice-settings'], async () => {
    const r = await call('PATCH', '/v1/tenants/me/notice-settings', { token: tok.demo, body: { notifyEmail: 'billing@demo.example', notifySms: '+8613800138000' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ notifyEmail: 'billing@demo.example', notifySms: '+8613800138000', notifyWebhook: null, notifyLanguage: null });
    const off = await call('PATCH', '/v1/tenants/demo/notice-settings', { body: { notifySms: null } });
    expect(off.body.notifySms).toBeNull();
    expect((await call('GET', '/v1/tenants/me/notice-settings', { token: tok.demo })).body.notifyEmail).toBe('billing@demo.example');
    const bad = await call('PATCH', '/v1/tenants/me/notice-settings', { token: tok.demo, body: { notifyWebhook: 'ftp://x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/http/);
    // several addresses (stored as one list) and the notice language; a bad address or language is refused
    const many = await call('PATCH', '/v1/tenants/me/notice-settings', { token: tok.demo, body: { notifyEmail: 'billing@demo.example,cfo@demo.example', notifyLanguage: 'en' } });
    expect(many.status, many.text).toBe(200);
    expect(many.body).toMatchObject({ notifyEmail: 'billing@demo.example, cfo@demo.example', notifyLanguage: 'en' });
    for (const body of [{ notifyEmail: 'billing@demo.example, not-an-address' }, { notifyLanguage: 'fr' }, { notifyEmail: Array.from({ length: 6 }, (_, i) => `a${i}@demo.example`).join(',') }]) {
      const no = await call('PATCH', '/v1/tenants/me/notice-settings', { token: tok.demo, body });
      expect(no.status, JSON.stringify(body)).toBe(400);
    }
    const back = await call('PATCH', '/v1/tenants/me/notice-settings', { token: tok.demo, body: { notifyEmail: 'billing@demo.example', notifyLanguage: null } });
    expect(back.body).toMatchObject({ notifyEmail: 'billing@demo.example', notifyLanguage: null });
    const a = await auditOf('tenant.notice-settings');
    expect(a.find((x) => x.before.notifyEmail === null)).toMatchObject({ actor_kind: 'tenant', after: { notifyEmail: 'billing@demo.example' } });
    expect(a.some((x) => x.after.notifyLanguage === 'en')).toBe(true);
  }));

  it('announcements: read by anyone who may see the tenant, set by an operator-admin only, audited; unknown tenant 404', covers(['GET /v1/tenants/{tenant}/announcements', 'PUT /v1/tenants/{tenant}/announcements'], async () => {
    const r0 = await call('GET', '/v1/tenants/me/announcements', { token: tok.demo });
    expect([r0.status, r0.body]).toEqual([200, { tenantId: expect.stringMatching(/^\d+$/), tenant: 'demo', language: 'zh', lowCreditWarning: false }]);
    expect((await call('PUT', '/v1/tenants/me/announcements', { token: tok.demo, body: { language: 'en', lowCreditWarning: true } })).status).toBe(403);
    const set = await call('PUT', '/v1/tenants/demo/announcements', { body: { language: 'en', lowCreditWarning: true } });
    expect([set.status, set.body.language, set.body.lowCreditWarning]).toEqual([200, 'en', true]);
    expect((await call('GET', '/v1/tenants/demo/announcements', { token: tok.read })).body).toMatchObject({ language: 'en', lowCreditWarning: true });
    expect((await call('PUT', '/v1/tenants/demo/announcements', { token: tok.read, body: { language: 'zh', lowCreditWarning: true } })).status).toBe(403);
    expect((await call('PUT', '/v1/tenants/demo/announcements', { token: tok.other, body: { language: 'zh', lowCreditWarning: true } })).status).toBe(403);
    const bad = await call('PUT', '/v1/tenants/demo/announcements', { body: { language: 'fr', lowCreditWarning: true } });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'body.language']);
    const half = await call('PUT', '/v1/tenants/demo/announcements', { body: { language: 'zh' } });
    expect([half.status, half.body.error.field]).toEqual([400, 'body.lowCreditWarning']);
    for (const method of ['GET', 'PUT']) {
      const none = await call(method, '/v1/tenants/nobody/announcements', method === 'PUT' ? { body: { language: 'zh', lowCreditWarning: false } } : {});
      expect([none.status, none.body.error.code], method).toEqual([404, 'not_found']);
    }
    const back = await call('PUT', '/v1/tenants/demo/announcements', { body: { language: 'zh', lowCreditWarning: true } });
    expect(back.body.language).toBe('zh');
    // a PUT that changes nothing writes no audit row
    await call('PUT', '/v1/tenants/demo/announcements', { body: { language: 'zh', lowCreditWarning: true } });
    expect((await auditOf('tenant.announcements')).map((a) => [a.actor_kind, a.before, a.after])).toEqual([
      ['operator', { language: 'zh', lowCreditWarning: false }, { language: 'en', lowCreditWarning: true }],
      ['operator', { language: 'en', lowCreditWarning: true }, { language: 'zh', lowCreditWarning: true }],
    ]);
  }));

  it('limits: read and change; bad calling hours name the field', covers(['GET /v1/tenants/{tenant}/limits', 'PATCH /v1/tenants/{tenant}/limits'], async () => {
    await acme();
    const r = await call('PATCH', '/v1/tenants/acme/limits', { body: { maxConcurrent: 60, callingHours: '08:00-21:00', dailySpendCap: '500.00' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ maxConcurrent: 60, callingHours: { from: '08:00', to: '21:00' }, dailySpendCapFen: '50000' });
    expect((await call('GET', '/v1/tenants/acme/limits', { token: tok.read })).body.maxConcurrent).toBe(60);
    const bad = await call('PATCH', '/v1/tenants/acme/limits', { body: { callingHours: '25:00-26:00' } });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'body.callingHours']);
    expect((await call('PATCH', '/v1/tenants/acme/limits', { body: {} })).status).toBe(400);
    expect((await auditOf('tenant.limits'))[0]).toMatchObject({ before: { maxConcurrent: expect.any(Number) }, after: { maxConcurrent: 60 } });
  }));

  it('rate plan: an operator-admin moves a tenant to another plan, Redis follows, audited once; bad plan 400, read-only and tenant 403, terminated 409', covers(['PUT /v1/tenants/{tenant}/rate-plan'], async () => {
    await acme();
    const deck = await call('PUT', '/v1/rate-plans/intl/deck?create=true', { raw: 'prefix,price_per_minute\n86,0.12\n', fixture: true });
    expect(deck.status, deck.text).toBe(200);
    const r = await call('PUT', '/v1/tenants/acme/rate-plan', { body: { ratePlan: 'intl' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ before: 'china-std', ratePlan: 'intl', redis: 'applied' });
    const plans = (await call('GET', '/v1/rate-plans', { token: tok.read, fixture: true })).body.plans as { id: string; name: string }[];
    const intl = plans.find((p) => p.name === 'intl')!;
    expect(r.body.tenant.ratePlanId).toBe(intl.id);
    expect(await redis.hget(redis.layout.tenant(r.body.tenant.id), 'plan')).toBe(intl.id);
    // the same plan again changes nothing and writes no second audit row
    expect((await call('PUT', '/v1/tenants/acme/rate-plan', { body: { ratePlan: 'intl' } })).body).toMatchObject({ before: 'intl', ratePlan: 'intl' });
    expect((await auditOf('tenant.rate-plan')).map((a) => [a.actor_kind, a.before, a.after])).toEqual([['operator', { ratePlan: 'china-std' }, { ratePlan: 'intl' }]]);
    const none = await call('PUT', '/v1/tenants/acme/rate-plan', { body: { ratePlan: 'nosuch' } });
    expect([none.status, none.body.error.message]).toEqual([400, 'no rate plan "nosuch"']);
    const bad = await call('PUT', '/v1/tenants/acme/rate-plan', { body: { ratePlan: '../x' } });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'body.ratePlan']);
    expect((await call('PUT', '/v1/tenants/acme/rate-plan', { token: tok.read, body: { ratePlan: 'china-std' } })).status).toBe(403);
    expect((await call('PUT', '/v1/tenants/me/rate-plan', { token: tok.demo, body: { ratePlan: 'intl' } })).status).toBe(403);
    await setup('POST', '/v1/tenants/acme/terminate', { reason: 'end' });
    const done = await call('PUT', '/v1/tenants/acme/rate-plan', { body: { ratePlan: 'china-std' } });
    expect([done.status, done.body.error.code]).toEqual([409, 'conflict']);
  }));

  it('suspend and resume follow into Redis; the audit log holds both, newest first over the API', covers(['POST /v1/tenants/{tenant}/suspend', 'POST /v1/tenants/{tenant}/resume', 'GET /v1/audit'], async () => {
    await acme();
    const s = await call('POST', '/v1/tenants/acme/suspend', { body: { reason: 'compliance review' } });
    expect(s.body).toMatchObject({ before: 'active', tenant: { status: 'suspended', statusReason: 'compliance review' }, redis: 'applied' });
    const id = s.body.tenant.id as string;
    expect(await redis.hget(redis.layout.tenant(String(id)), 'status')).toBe('suspended');
    const r = await call('POST', '/v1/tenants/acme/resume');
    expect(r.body.tenant.status).toBe('active');
    const log = await call('GET', `/v1/audit?tenant=acme&limit=2`, { token: tok.read });
    expect(log.body.entries.map((e: any) => e.action)).toEqual(['tenant.resume', 'tenant.suspend']);
    expect(log.body.entries[1]).toMatchObject({ before: { status: 'active' }, after: { status: 'suspended', statusReason: 'compliance review' } });
    const page2 = await call('GET', `/v1/audit?tenant=acme&limit=2&beforeId=${log.body.nextBeforeId}`, { token: tok.read });
    expect(page2.body.entries.every((e: any) => BigInt(e.id) < BigInt(log.body.nextBeforeId))).toBe(true);
    expect((await call('GET', '/v1/audit', { token: tok.demo })).status).toBe(403);
  }));
});

describe('orders and numbers with real-name review', () => {
  it('an order credits the prepaid packages and puts its numbers in the review queue; paying an unpaid one credits it', covers(['GET /v1/tenants/{tenant}/orders', 'POST /v1/tenants/{tenant}/orders', 'POST /v1/orders/{orderNo}/pay'], async () => {
    await acme();
    const o = await call('POST', '/v1/tenants/acme/orders', {
      body: { orderNo: 'ACME-1', packageAmount: '1000.00', validityMonths: 12, numbers: ['+8657188881111'], rent: '50.00', rentPeriod: 'month' },
    });
    expect(o.status, o.text).toBe(201);
    expect(o.body).toMatchObject({ duplicate: false, credit: { amountFen: '100000' }, redis: { state: 'applied', credit: 'applied' } });
    expect((await call('POST', '/v1/tenants/acme/orders', { body: { orderNo: 'ACME-1', packageAmount: '1000.00', validityMonths: 12 } })).status).toBe(200);
    const unpaid = await call('POST', '/v1/tenants/acme/orders', { body: { orderNo: 'ACME-2', packageAmount: '200.00', validityMonths: 12, paid: false } });
    expect(unpaid.body.credit).toBeNull();
    const pay = await call('POST', '/v1/orders/ACME-2/pay', { body: {} });
    expect(pay.body).toMatchObject({ duplicate: false, credit: { amountFen: '20000' } });
    expect((await call('POST', '/v1/orders/NOPE/pay')).status).toBe(404);
    const list = await call('GET', '/v1/tenants/acme/orders', { token: tok.read });
    expect(list.body.orders.map((x: any) => [x.orderNo, x.status])).toEqual([['ACME-1', 'superseded'], ['ACME-2', 'active']]);
    expect((await auditOf('order.pay'))).toHaveLength(1);
  }));

  it('documents, review queue, reject with a reason, resubmit, approve, suspend, reclaim', covers(['GET /v1/numbers', 'GET /v1/numbers/review-queue', 'GET /v1/tenants/{tenant}/numbers', 'POST /v1/tenants/{tenant}/numbers', 'POST /v1/numbers/{e164}/documents', 'POST /v1/numbers/{e164}/approve', 'POST /v1/numbers/{e164}/reject', 'POST /v1/numbers/{e164}/suspend', 'POST /v1/numbers/{e164}/reclaim'], async () => {
    await acme();
    await acmeOrder();
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const add = await call('POST', '/v1/tenants/acme/numbers', {
      body: { e164: '+8657188882222', rent: '50.00', rentPeriod: 'month', documents: [{ docType: 'business_licence', docRef: 'DMS-1', fileSha256: sha('licence') }] },
    });
    expect(add.status, add.text).toBe(201);
    expect(add.body).toMatchObject({ state: 'pending_review', tenantCode: 'acme', documents: [{ docType: 'business_licence', docRef: 'DMS-1' }] });
    const queue = await call('GET', '/v1/numbers/review-queue', { token: tok.read });
    expect(queue.body.numbers.map((n: any) => n.e164)).toEqual(['+8657188881111', '+8657188882222']);
    const noReason = await call('POST', '/v1/numbers/%2B8657188882222/reject', { body: {} });
    expect([noReason.status, noReason.body.error.field]).toEqual([400, 'body.reason']);
    const badDoc = await call('POST', '/v1/numbers/%2B8657188882222/documents', { body: { documents: [{ docType: 'passport', docRef: 'x', fileSha256: 'abc' }] } });
    expect(badDoc.status).toBe(400);
    expect(badDoc.body.error.field).toMatch(/^body\.documents/);
    const rej = await call('POST', '/v1/numbers/%2B8657188882222/reject', { body: { reason: 'licence expired' } });
    expect(rej.body).toMatchObject({ state: 'rejected', stateReason: 'licence expired' });
    const again = await call('POST', '/v1/numbers/%2B8657188882222/documents', { body: { documents: [{ docType: 'business_licence', docRef: 'DMS-2', fileSha256: sha('licence 2') }] } });
    expect(again.body).toMatchObject({ state: 'pending_review' });
    expect(again.body.documents).toHaveLength(2);
    expect((await call('POST', '/v1/numbers/%2B8657188882222/approve')).body.state).toBe('approved');
    expect((await call('POST', '/v1/numbers/%2B8657188882222/suspend', { body: { reason: 'carrier asks for new documents' } })).body.state).toBe('suspended');
    expect((await call('POST', '/v1/numbers/%2B8657188882222/reclaim', { body: { reason: 'end' } })).body.state).toBe('reclaimed');
    expect((await call('POST', '/v1/numbers/%2B8657188882222/approve')).status).toBe(400);
    expect((await call('POST', '/v1/numbers/%2B8657100000000/approve')).status).toBe(404);
    const byState = await call('GET', '/v1/numbers?state=reclaimed', { token: tok.read });
    expect(byState.body.numbers.map((n: any) => n.e164)).toEqual(['+8657188882222']);
    const mine = await call('GET', '/v1/tenants/me/numbers', { token: tok.demo });
    expect(mine.body.numbers.map((n: any) => n.e164)).toEqual(['+8657188880000']);
    const actions = (await db.pool.query(`select action from audit_log where target_id = '+8657188882222' order by id`)).rows.map((r) => r.action);
    expect(actions).toEqual(['number.add', 'number.reject', 'number.documents', 'number.approve', 'number.suspend', 'number.reclaim']);
  }));
});

describe('top-ups and gifts with Idempotency-Key', () => {
  it('a replay returns the first result and credits once; another body with the same key is 409', covers(['GET /v1/tenants/{tenant}/balance', 'POST /v1/tenants/{tenant}/top-ups'], async () => {
    const before = await call('GET', '/v1/tenants/demo/balance', { token: tok.demo });
    const first = await call('POST', '/v1/tenants/demo/top-ups', { headers: { 'idempotency-key': 'PAY-0001' }, body: { amount: '500.00', memo: 'bank transfer' } });
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBe('false');
    expect(first.headers.get('x-redis-sync')).toBe('applied');
    expect(first.body).toMatchObject({ kind: 'paid', amountFen: '50000' });
    const replay = await call('POST', '/v1/tenants/demo/top-ups', { headers: { 'idempotency-key': 'PAY-0001' }, body: { amount: '500.00', memo: 'bank transfer' } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await call('POST', '/v1/tenants/demo/top-ups', { headers: { 'idempotency-key': 'PAY-0001' }, body: { amount: '600.00' } });
    expect([other.status, other.body.error.code]).toEqual([409, 'conflict']);
    const after = await call('GET', '/v1/tenants/demo/balance', { token: tok.demo });
    expect(BigInt(after.body.usablePaidFen) - BigInt(before.body.usablePaidFen)).toBe(50_000n);
    const n = await db.pool.query(`select count(*)::int as n from ledger_transfers where idempotency_key = 'topup:PAY-0001'`);
    expect(n.rows[0].n).toBe(1);
    expect(await auditOf('credit.top-up')).toHaveLength(1);
  }));

  it('20 concurrent requests with one key credit exactly once and all answer the same credit', covers(['GET /v1/tenants/{tenant}/balance', 'POST /v1/tenants/{tenant}/gifts'], async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/v1/tenants/demo/gifts', { headers: { 'idempotency-key': 'GIFT-RACE' }, body: { amount: '8.88' } })));
    expect(rs.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(rs.map((r) => r.body.transferId)).size).toBe(1);
    expect(rs.filter((r) => r.headers.get('idempotent-replayed') === 'false')).toHaveLength(1);
    expect(rs[0]!.body.kind).toBe('gift');
    const n = await db.pool.query(`select count(*)::int as n from ledger_transfers where idempotency_key = 'topup:GIFT-RACE'`);
    expect(n.rows[0].n).toBe(1);
    const bal = await call('GET', '/v1/tenants/me/balance', { token: tok.demo });
    expect(bal.body.usableGiftFen).toBe('888');
  }));

  it('no key, a bad key, a bad amount and an unknown tenant are refused naming the field', covers(['POST /v1/tenants/{tenant}/top-ups'], async () => {
    const noKey = await call('POST', '/v1/tenants/demo/top-ups', { body: { amount: '1.00' } });
    expect([noKey.status, noKey.body.error.field]).toEqual([400, 'headers.idempotency-key']);
    const badAmount = await call('POST', '/v1/tenants/demo/top-ups', { headers: { 'idempotency-key': 'k2' }, body: { amount: '1.001' } });
    expect([badAmount.status, badAmount.body.error.field]).toEqual([400, 'body.amount']);
    const zero = await call('POST', '/v1/tenants/demo/top-ups', { headers: { 'idempotency-key': 'k3' }, body: { amount: '0.00' } });
    expect([zero.status, zero.body.error.field]).toEqual([400, 'amount']);
    expect((await call('POST', '/v1/tenants/nosuch/top-ups', { headers: { 'idempotency-key': 'k4' }, body: { amount: '1.00' } })).status).toBe(404);
  }));
});

describe('payments (billing\'s operations over HTTP)', () => {
  it('records a payment once per reference and shows the account; another tenant\'s account is 404', covers(['POST /v1/tenants/{tenant}/orders', 'POST /v1/tenants/{tenant}/payments', 'GET /v1/tenants/{tenant}/account'], async () => {
    await acme();
    const unpaid = await call('POST', '/v1/tenants/acme/orders', { body: { orderNo: 'ACME-3', packageAmount: '300.00', validityMonths: 12, paid: false } });
    expect(unpaid.status, unpaid.text).toBe(201);
    const owed = await call('GET', '/v1/tenants/acme/account?open=true', { token: tok.read });
    expect(owed.status, owed.text).toBe(200);
    expect(BigInt(owed.body.owedFen)).toBeGreaterThanOrEqual(30_000n);
    const p = await call('POST', '/v1/tenants/acme/payments', { body: { amount: '300.00', reference: 'BANK-77', orderNo: 'ACME-3' } });
    expect(p.status, p.text).toBe(201);
    expect(p.body.duplicate).toBe(false);
    const again = await call('POST', '/v1/tenants/acme/payments', { body: { amount: '300.00', reference: 'BANK-77', orderNo: 'ACME-3' } });
    expect(again.body.duplicate).toBe(true);
    const acct = await call('GET', '/v1/tenants/acme/account', { token: tok.read });
    expect(acct.body.payments.some((x: any) => x.reference === 'BANK-77')).toBe(true);
    expect((await call('GET', '/v1/tenants/acme/account', { token: tok.demo })).status).toBe(404);
    expect((await call('POST', '/v1/tenants/acme/payments', { body: { amount: 'x', reference: 'R' } })).body.error.field).toBe('body.amount');
  }));

  it('statements as JSON, CSV and PDF; an invoice of the payment, listed and as PDF; another tenant\'s are 404', covers(['GET /v1/tenants/{tenant}/statements/{month}', 'GET /v1/tenants/{tenant}/statements/{month}/csv', 'GET /v1/tenants/{tenant}/statements/{month}/pdf', 'GET /v1/tenants/{tenant}/invoices', 'POST /v1/tenants/{tenant}/invoices', 'GET /v1/invoices/{number}/pdf', 'GET /v1/jobs'], async () => {
    await acme();
    await acmeOrder();
    await acmePayment();
    const month = new Date(clock).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 7);
    const st = await call('GET', `/v1/tenants/acme/statements/${month}`, { token: tok.read });
    expect(st.status, st.text).toBe(200);
    expect(BigInt(st.body.totals.creditedFen)).toBeGreaterThan(0n);
    const csv = await call('GET', `/v1/tenants/acme/statements/${month}/csv`, { token: tok.read });
    expect([csv.status, csv.headers.get('content-type')]).toEqual([200, 'text/csv; charset=utf-8']);
    const pdf = await fetch(`${base}/v1/tenants/acme/statements/${month}/pdf`, { headers: { authorization: `Bearer ${tok.read}` } });
    current.push({ method: 'GET', path: `/v1/tenants/acme/statements/${month}/pdf`, status: pdf.status });
    expect(pdf.status).toBe(200);
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    expect((await call('GET', `/v1/tenants/acme/statements/${month}`, { token: tok.demo })).status).toBe(404);
    const inv = await call('POST', '/v1/tenants/acme/invoices', { body: { payment: 'BANK-77', kind: 'general' } });
    expect(inv.status, inv.text).toBe(201);
    const list = await call('GET', '/v1/tenants/acme/invoices', { token: tok.read });
    expect(list.body.invoices.map((i: any) => i.number)).toEqual([inv.body.invoice.number]);
    const ipdf = await fetch(`${base}/v1/invoices/${inv.body.invoice.number}/pdf`, { headers: { authorization: `Bearer ${tok.read}` } });
    current.push({ method: 'GET', path: `/v1/invoices/${inv.body.invoice.number}/pdf`, status: ipdf.status });
    expect(ipdf.status).toBe(200);
    expect((await call('GET', `/v1/invoices/${inv.body.invoice.number}/pdf`, { token: tok.demo })).status).toBe(404);
    const jobs = await call('GET', '/v1/jobs', { token: tok.read });
    expect(jobs.status, jobs.text).toBe(200);
    expect(Array.isArray(jobs.body.jobs)).toBe(true);
  }));
});

describe('rate decks, trunks, gateways', () => {
  it('imports a CSV deck with the CLI\'s row validation: any bad row and nothing is imported', covers(['GET /v1/rate-plans', 'GET /v1/rate-plans/{plan}/deck', 'PUT /v1/rate-plans/{plan}/deck'], async () => {
    const bad = await call('PUT', '/v1/rate-plans/intl/deck?create=true', { raw: 'prefix,price_per_minute\n8613,0.08\n+86,abc\n8614,0.09\n8613,0.10\n' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.line)).toEqual([3, 5]);
    expect((await call('GET', '/v1/rate-plans', { token: tok.read })).body.plans.map((p: any) => p.name)).toEqual(['china-std']);
    const good = await call('PUT', '/v1/rate-plans/intl/deck?create=true', { raw: 'prefix,price_per_minute,destination\n8613,0.08,Mobile\n1,0.50,USA\n' });
    expect(good.status, good.text).toBe(200);
    expect(good.body).toMatchObject({ ok: true, imported: 2, created: true });
    const csv = await call('GET', '/v1/rate-plans/intl/deck', { token: tok.read });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.split('\n')[0]).toContain('prefix');
    expect(csv.text).toContain('8613,Mobile,0.080000');
    expect((await call('PUT', '/v1/rate-plans/nope/deck', { raw: 'prefix,price_per_minute\n86,0.1\n' })).status).toBe(404);
    const big = await call('PUT', '/v1/rate-plans/intl/deck', { raw: 'prefix,price_per_minute\n' + '86,0.1\n'.repeat(1000) });
    expect([big.status, big.body.error.code]).toEqual([413, 'payload_too_large']);
    expect((await auditOf('rates.import'))[0]).toMatchObject({ target_id: 'intl', detail: { imported: 2 } });
  }));

  it('trunks and gateways: add (201), duplicate (409), bad address (400), list, disable/enable', covers(['GET /v1/trunks', 'POST /v1/trunks', 'GET /v1/gateways', 'POST /v1/gateways', 'POST /v1/trunks/{name}/enable', 'POST /v1/trunks/{name}/disable', 'POST /v1/gateways/{name}/enable', 'POST /v1/gateways/{name}/disable'], async () => {
    expect((await call('POST', '/v1/trunks', { body: { name: 'ccc-b', address: '10.0.0.3', failurePolicy: 'continue' } })).status).toBe(201);
    expect((await call('POST', '/v1/trunks', { body: { name: 'ccc-b', address: '10.0.0.4' } })).status).toBe(409);
    const bad = await call('POST', '/v1/trunks', { body: { name: 'ccc-c', address: '10.0.0.300' } });
    expect([bad.status, bad.body.error.field]).toEqual([400, 'address']);
    // no source port: trunks send from many (migration 021)
    const port = await call('POST', '/v1/trunks', { body: { name: 'ccc-p', address: '10.0.0.5', port: 5060 } });
    expect([port.status, port.body.error.field]).toEqual([400, 'body.port']);
    expect((await call('POST', '/v1/trunks/ccc-b/disable')).body.enabled).toBe(false);
    expect((await call('POST', '/v1/trunks/ccc-b/enable')).body.enabled).toBe(true);
    expect((await call('POST', '/v1/trunks/nope/enable')).status).toBe(404);
    expect((await call('GET', '/v1/trunks', { token: tok.read })).body.trunks.map((t: any) => t.name)).toEqual(['ccc-b', 'ccc-local']);
    expect((await call('POST', '/v1/gateways', { body: { name: 'gw-b', host: '10.1.1.1', priority: 5, numberFormat: 'e164' } })).status).toBe(201);
    expect((await call('POST', '/v1/gateways/gw-b/disable')).body).toMatchObject({ name: 'gw-b', enabled: false });
    expect((await call('POST', '/v1/gateways/gw-b/enable')).body.enabled).toBe(true);
    const gws = await call('GET', '/v1/gateways', { token: tok.read });
    expect(gws.body.gateways.map((g: any) => g.name)).toEqual(['gw-b', 'carrier-local']);
    expect((await auditOf('trunk.disable'))[0]).toMatchObject({ before: { enabled: true }, after: { enabled: false } });
  }));
});

describe('CDRs, bills, live calls, reconcile', () => {
  // five CDRs of demo (none of the tests writes CDRs)
  beforeEach(async () => {
    const demo = (await db.pool.query(`select id from tenants where code = 'demo'`)).rows[0].id;
    // before the services' clock: a list's default upper bound is its now
    const now = clock - 1000;
    for (let i = 0; i < 5; i++) {
      await db.pool.query(
        `insert into cdrs (call_id, invite_at, tenant_id, a_call_id, caller, callee, end_at, billable_seconds, duration_ms, charge_fen, sip_status, result, gateway)
         values ($1, $2, $3, $4, '+8657188880000', $5, $2, 60, 60000, 10, 200, 'answered', 'carrier-local')`,
        [`cdr-${i}`, new Date(now - i * 60_000), demo, `a-${i}`, i < 2 ? '+8613800138000' : '+862100000000'],
      );
    }
  });

  it('lists with filters and cursor paging; exports CSV streamed, tenant columns only', covers(['GET /v1/tenants/{tenant}/cdrs', 'GET /v1/tenants/{tenant}/cdrs/export.csv'], async () => {
    const all = await call('GET', '/v1/tenants/me/cdrs?limit=2', { token: tok.demo });
    expect(all.body.cdrs.map((c: any) => c.callId)).toEqual(['cdr-0', 'cdr-1']);
    const next = await call('GET', `/v1/tenants/me/cdrs?limit=2&cursor=${all.body.nextCursor}`, { token: tok.demo });
    expect(next.body.cdrs.map((c: any) => c.callId)).toEqual(['cdr-2', 'cdr-3']);
    const mobile = await call('GET', '/v1/tenants/me/cdrs?callee=138', { token: tok.demo });
    expect(mobile.body.cdrs.map((c: any) => c.callId)).toEqual(['cdr-0', 'cdr-1']);
    const csv = await call('GET', '/v1/tenants/me/cdrs/export.csv?callee=021', { token: tok.demo });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toContain('cdrs-demo.csv');
    const lines = csv.text.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).not.toContain('gateway');
    expect(lines[1]).toMatch(/^cdr-4,/);
    const op = await call('GET', '/v1/tenants/demo/cdrs/export.csv', { token: tok.read });
    expect(op.text.split('\n')[0]).toContain('gateway');
    expect((await call('GET', '/v1/tenants/me/cdrs/export.csv?from=2026-13-01T00:00:00Z', { token: tok.demo })).status).toBe(400);
  }));

  it('the month\'s bill of a tenant', covers(['GET /v1/tenants/{tenant}/bills/{month}'], async () => {
    const month = new Date().toISOString().slice(0, 7);
    const r = await call('GET', `/v1/tenants/me/bills/${month}`, { token: tok.demo });
    expect(r.status).toBe(200);
    expect(BigInt(r.body.closingBalanceFen)).toBe(BigInt(r.body.openingBalanceFen) + BigInt(r.body.creditedFen) - BigInt(r.body.debitedFen));
  }));

  it('live calls from the shared call sets; a cut is published and audited; reconcile reports every tenant', covers(['GET /v1/calls', 'GET /v1/tenants/{tenant}/calls', 'POST /v1/tenants/{tenant}/calls/cut', 'GET /v1/reconcile'], async () => {
    await acme();
    const demo = (await db.pool.query(`select id from tenants where code = 'demo'`)).rows[0].id.toString();
    await redis.zadd(redis.layout.sipCalls(String(demo)), Date.now() + 60_000, 'call-x');
    expect((await call('GET', '/v1/calls', { token: tok.read })).body.calls).toEqual([{ tenantId: demo, calls: 1 }]);
    expect((await call('GET', '/v1/tenants/me/calls', { token: tok.demo })).body.calls).toEqual([{ tenantId: demo, calls: 1 }]);
    const cut = await call('POST', '/v1/tenants/demo/calls/cut', { body: { reason: 'fraud review' } });
    expect(cut.body).toMatchObject({ tenant: 'demo', liveCallsBefore: 1 });
    expect((await auditOf('calls.cut'))[0]).toMatchObject({ detail: { reason: 'fraud review', liveCallsBefore: 1 } });
    const rec = await call('GET', '/v1/reconcile', { token: tok.read });
    expect(rec.status, rec.text).toBe(200);
    expect(rec.body.checked).toBeGreaterThanOrEqual(3);
    expect((await call('GET', '/v1/reconcile?tenant=demo', { token: tok.read })).body.checked).toBe(1);
  }));
});

describe('limits of the HTTP layer', () => {
  it('a JSON body over the limit is 413; a wrong content type is 415; a wrong method is 405', covers(['POST /v1/tenants'], async () => {
    const big = await call('POST', '/v1/tenants', { body: { code: 'big', legalName: 'x'.repeat(3000) } });
    expect([big.status, big.body.error.code]).toEqual([413, 'payload_too_large']);
    const xml = await call('POST', '/v1/tenants', { raw: '<x/>', type: 'application/xml' });
    expect([xml.status, xml.body.error.code]).toEqual([415, 'unsupported_media_type']);
    const m = await call('DELETE', '/v1/tenants/demo');
    expect([m.status, m.headers.get('allow')]).toEqual([405, 'GET']);
  }));

  it('per-token rate limit: past the limit a token gets 429 while another token still works', covers([], async () => {
    const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, 'api.operatorToken': BOOT, 'api.rateLimitPerMinute': 5 });
    const small = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services: testServices(db.pool, { config }) });
    const port = (await small.listen()).port;
    try {
      const get = (t: string) => fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${t}` } });
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await get(tok.read)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const limited = await get(tok.read);
      expect(((await limited.json()) as any).error.code).toBe('rate_limited');
      expect(limited.headers.get('retry-after')).toBeTruthy();
      expect((await get(tok.demo)).status).toBe(200);
      // probes are never limited
      for (let i = 0; i < 7; i++) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await small.close();
    }
  }));
});

describe('outbox and dead letters', () => {
  async function makeDead(raw: string): Promise<string> {
    const outbox = withOutboxCommands(redis, redis.layout);
    await ensureGroup(outbox, 0);
    await outbox.xadd(outbox.layout.outbox(0), '*', 'event', raw);
    const [entry] = await readNew(outbox, [0], 'api-test', 1, 0);
    expect(await deadLetter(outbox, entry!, 'poison: test', 'api-test')).toBe(true);
    return (await listDead(outbox, 1000)).find((d) => d.streamId === entry!.id)!.id;
  }

  it('status and list for staff; replay and discard for operator-admin, audited; discard archives the raw event', covers(['GET /v1/outbox', 'GET /v1/outbox/dead', 'POST /v1/outbox/dead/{deadId}/replay', 'POST /v1/outbox/dead/{deadId}/discard', 'GET /v1/outbox/discarded'], async () => {
    const gone = await makeDead('no tenant here');
    const back = await makeDead(JSON.stringify({ v: 1, kind: 'call.ended', tenantId: '1' }));
    const status = await call('GET', '/v1/outbox', { token: tok.read });
    expect([status.status, status.body.deadLetters]).toEqual([200, 2]);
    expect((await call('GET', '/v1/outbox', { token: tok.demo })).status).toBe(403);
    const list = await call('GET', '/v1/outbox/dead?limit=10', { token: tok.read });
    expect(list.body.deadLetters.map((d: any) => [d.id, d.reason, d.event])).toEqual([[gone, 'poison: test', 'no tenant here'], [back, 'poison: test', expect.any(String)]]);

    const path = `/v1/outbox/dead/${gone}/discard`;
    expect((await call('POST', path, { token: tok.read, body: { reason: 'x' } })).status).toBe(403);
    expect((await call('POST', path, { token: tok.demo, body: { reason: 'x' } })).status).toBe(403);
    const noReason = await call('POST', path, { body: {} });
    expect([noReason.status, noReason.body.error.field]).toEqual([400, 'body.reason']);
    expect((await call('POST', '/v1/outbox/dead/x1/discard', { body: { reason: 'x' } })).status).toBe(400);
    expect((await call('POST', '/v1/outbox/dead/0:1-1/discard', { body: { reason: 'x' } })).status).toBe(404);
    const ok = await call('POST', path, { body: { reason: 'written by hand in a test' } });
    expect([ok.status, ok.body.deadId, ok.body.tenants]).toEqual([200, gone, []]);
    const archived = (await db.pool.query(`select event, reason, actor_kind, removed_at from outbox_dead_archive where id = $1`, [ok.body.archiveId])).rows;
    expect(archived).toEqual([{ event: Buffer.from('no tenant here'), reason: 'written by hand in a test', actor_kind: 'operator', removed_at: expect.any(Date) }]);
    expect((await call('POST', path, { body: { reason: 'again' } })).status).toBe(404);
    const discarded = await call('GET', '/v1/outbox/discarded?limit=5', { token: tok.read });
    expect([discarded.status, discarded.body.discarded]).toEqual([200, [expect.objectContaining({
      archiveId: ok.body.archiveId, deadId: gone, deadReason: 'poison: test', event: 'no tenant here', tenants: [], reason: 'written by hand in a test', actorKind: 'operator',
      removedAt: expect.any(String),
    })]]);
    expect((await call('GET', '/v1/outbox/discarded', { token: tok.demo })).status).toBe(403);

    const replay = await call('POST', `/v1/outbox/dead/${back}/replay`);
    expect([replay.status, replay.body.deadId]).toEqual([200, back]);
    expect((await call('POST', `/v1/outbox/dead/${back}/replay`)).status).toBe(404);
    expect((await call('GET', '/v1/outbox/dead', { token: tok.read })).body.deadLetters).toEqual([]);
    expect((await auditOf('outbox.dead.discard')).map((a) => [a.actor_kind, a.target_id])).toEqual([['operator', gone]]);
    expect((await auditOf('outbox.dead.replay')).map((a) => [a.actor_kind, a.target_id, a.after])).toEqual([['operator', back, { outboxId: replay.body.outboxId }]]);
  }));
});

describe('contract operations (the CLI\'s billing commands through the service layer)', () => {
  it('outage log and fault reports: staff read the log; a tenant reports its own fault (time of the request) and sees only its own', covers(['GET /v1/outages', 'POST /v1/tenants/{tenant}/fault-reports', 'GET /v1/tenants/{tenant}/fault-reports', 'GET /v1/fault-reports'], async () => {
    expect((await call('GET', '/v1/outages', { token: tok.demo })).status).toBe(403);
    const log = await call('GET', '/v1/outages?from=2026-01-01T00:00:00Z', { token: tok.read });
    expect(log.status, log.text).toBe(200);
    expect(log.body).toMatchObject({ gateways: expect.any(Array), carrier: expect.any(Array), enabledGateways: expect.any(Array) });
    expect((await call('GET', '/v1/outages?from=yesterday', { token: tok.read })).status).toBe(400);

    const own = await call('POST', '/v1/tenants/me/fault-reports', { token: tok.demo, body: { description: 'all outbound calls fail with 503' } });
    expect(own.status, own.text).toBe(201);
    expect(own.body).toMatchObject({ tenant: 'demo', report: { description: 'all outbound calls fail with 503', onTime: true, reportedBy: expect.stringMatching(/^tenant:/) } });
    // a tenant may not back-date its report; another tenant's is 404; a read-only operator may not write
    expect((await call('POST', '/v1/tenants/me/fault-reports', { token: tok.demo, body: { description: 'x', reportedAt: '2026-01-01T00:00:00Z' } })).status).toBe(400);
    expect((await call('POST', '/v1/tenants/demo/fault-reports', { token: tok.other, body: { description: 'x' } })).status).toBe(404);
    expect((await call('POST', '/v1/tenants/demo/fault-reports', { token: tok.read, body: { description: 'x' } })).status).toBe(403);
    const byPhone = await call('POST', '/v1/tenants/demo/fault-reports', { body: { description: 'one-way audio', foundAt: new Date(clock - 3_600_000).toISOString(), reportedAt: new Date(clock - 60_000).toISOString() } });
    expect(byPhone.status, byPhone.text).toBe(201);
    expect(byPhone.body.report.reportedBy).toMatch(/^operator:/);
    const mine = await call('GET', '/v1/tenants/me/fault-reports', { token: tok.demo });
    expect(mine.body.map((f: { description: string }) => f.description).sort()).toEqual(['all outbound calls fail with 503', 'one-way audio']);
    expect((await call('GET', '/v1/tenants/demo/fault-reports', { token: tok.other })).status).toBe(404);
    expect((await call('GET', '/v1/fault-reports', { token: tok.demo })).status).toBe(403);
    expect((await call('GET', '/v1/fault-reports', { token: tok.read })).body).toHaveLength(2);
    expect((await auditOf('fault.report')).map((a) => a.actor_kind)).toEqual(['tenant', 'operator']);
  }));

  it('billing jobs run by hand (admin only), the job names of the CLI', covers(['POST /v1/billing-jobs/{job}'], async () => {
    expect((await call('POST', '/v1/billing-jobs/late-fees', { token: tok.read, body: {} })).status).toBe(403);
    expect((await call('POST', '/v1/billing-jobs/everything', { body: {} })).status).toBe(400);
    for (const job of ['rent', 'late-fees', 'overdue', 'low-balance', 'period-end']) {
      const r = await call('POST', `/v1/billing-jobs/${job}`, { body: { tenant: 'demo' } });
      expect(r.status, `${job}: ${r.text}`).toBe(200);
      expect(Array.isArray(r.body)).toBe(true);
    }
    const low = await call('POST', '/v1/billing-jobs/low-balance', { body: { tenant: 'demo', at: new Date(clock).toISOString() } });
    expect(low.body[0]).toMatchObject({ tenant: 'demo', monthlyFeeFen: '95167' });
    expect((await call('POST', '/v1/billing-jobs/rent', { body: { tenant: 'nobody' } })).status).toBe(404);
  }));

  it('notices: staff list all, a tenant its own; a failed notice is re-queued (audited), a sent one is refused', covers(['GET /v1/notices', 'GET /v1/tenants/{tenant}/notices', 'POST /v1/notices/{id}/retry'], async () => {
    const demoId = (await db.pool.query<{ id: string }>(`select id::text as id from tenants where code = 'demo'`)).rows[0]!.id;
    const failed = (await db.pool.query<{ id: string }>(
      `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, attempts, error, next_attempt_at, failed_at)
       values ($1, 'payment_overdue', 'email', 'api-test:failed', '{"to":"billing@demo.example"}', 8, 'SMTP EENVELOPE: 550 no such user', null, now()) returning id::text as id`, [demoId])).rows[0]!.id;
    const sent = (await db.pool.query<{ id: string }>(
      `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, attempts, sent_at) values ($1, 'renewal_reminder', 'webhook', 'api-test:sent', '{}', 1, now()) returning id::text as id`, [demoId])).rows[0]!.id;
    const all = await call('GET', '/v1/notices?state=failed', { token: tok.read });
    expect(all.status, all.text).toBe(200);
    expect(all.body.map((n: { id: string }) => n.id)).toContain(failed);
    expect(all.body.every((n: { state: string }) => n.state === 'failed')).toBe(true);
    expect((await call('GET', '/v1/notices', { token: tok.demo })).status).toBe(403);
    const mine = await call('GET', '/v1/tenants/me/notices?kind=payment_overdue', { token: tok.demo });
    expect(mine.body.find((n: { id: string }) => n.id === failed)).toMatchObject({ tenant: 'demo', channel: 'email', to: 'billing@demo.example', state: 'failed', error: 'SMTP EENVELOPE: 550 no such user' });
    expect((await call('GET', '/v1/tenants/demo/notices', { token: tok.other })).status).toBe(404);
    expect((await call('GET', '/v1/notices?state=lost', { token: tok.read })).status).toBe(400);

    expect((await call('POST', `/v1/notices/${failed}/retry`, { token: tok.read })).status).toBe(403);
    const again = await call('POST', `/v1/notices/${failed}/retry`);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ id: failed, state: 'pending', attempts: 0, failedAt: null });
    expect((await call('POST', `/v1/notices/${sent}/retry`)).status).toBe(400);
    expect((await call('POST', '/v1/notices/999999999/retry')).status).toBe(404);
    expect((await auditOf('notice.retry')).map((a) => [a.target_id, a.before.state, a.after.state])).toEqual([[failed, 'failed', 'pending']]);
  }));

  it('early termination (art. 4.6) and the outage refund (art. 5.3) through the same service operations as the CLI', covers(['POST /v1/tenants/{tenant}/early-termination', 'POST /v1/tenants/{tenant}/refunds', 'GET /v1/tenants/{tenant}/refunds'], async () => {
    await acme();
    await acmeOrder();
    expect((await call('POST', '/v1/tenants/acme/early-termination', { token: tok.read, body: {} })).status).toBe(403);
    expect((await call('POST', '/v1/tenants/acme/early-termination', { token: tok.demo, body: {} })).status).toBe(403);
    const early = await call('POST', '/v1/tenants/acme/early-termination', { body: { reason: 'customer cancels' } });
    expect(early.status, early.text).toBe(200);
    expect(early.body).toMatchObject({ tenant: 'acme', duplicate: false, redis: 'applied' });
    expect(BigInt(early.body.feeFen)).toBe((BigInt(early.body.contractValueFen) * 30n) / 100n);
    const twice = await call('POST', '/v1/tenants/acme/early-termination', { body: {} });
    expect([twice.status, twice.body.duplicate, twice.body.termination.id]).toEqual([200, true, early.body.termination.id]);
    expect((await auditOf('tenant.terminate-early')).length).toBe(1);

    // no outage in the log: refused without an override; with one, the paid balance comes back, gift credit stays
    expect((await call('POST', '/v1/tenants/demo/refunds', { token: tok.read, body: { reason: 'outage' } })).status).toBe(403);
    expect((await call('POST', '/v1/tenants/demo/refunds', { body: { reason: 'bored' } })).status).toBe(400);
    const refused = await call('POST', '/v1/tenants/demo/refunds', { body: { reason: 'outage', waitSeconds: 0 } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/outage/);
    const refund = await call('POST', '/v1/tenants/demo/refunds', { body: { reason: 'outage', override: 'numbers frozen by the carrier, ticket 42', waitSeconds: 0 } });
    expect(refund.status, refund.text).toBe(201);
    expect(refund.body).toMatchObject({ tenant: 'demo', terminated: true, refund: { override: 'numbers frozen by the carrier, ticket 42' } });
    expect(BigInt(refund.body.refundedFen)).toBeGreaterThan(0n);
    const list = await call('GET', '/v1/tenants/demo/refunds', { token: tok.read });
    expect(list.body.map((r: { id: string }) => r.id)).toEqual([refund.body.refund.id]);
    expect((await call('GET', '/v1/tenants/demo/refunds', { token: tok.other })).status).toBe(404);
  }));
});

describe('route coverage', () => {
  it('every route of /openapi.json is claimed by a test of this file (each test checks it calls what it claims), and no claim names a route the document lacks', covers(['GET /openapi.json'], async () => {
    const doc = (await call('GET', '/openapi.json', { token: null })).body;
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.length).toBeGreaterThan(50);
    const unclaimed = routes.filter((r) => !claimed.has(r));
    expect(unclaimed).toEqual([]);
    expect([...claimed].filter((r) => !routes.includes(r))).toEqual([]);
  }));
});
