/**
 * Tenant references are never ambiguous. A tenant code made only of digits could be read as another tenant's id
 * (`/v1/tenants/2/top-ups` crediting the tenant whose code is "2" instead of tenant 2): such codes are refused when a
 * tenant is created (one rule, the same for the CLI and the API), and a database that already holds one (made before
 * the rule) answers a reference that could mean two tenants with an error instead of picking one; `#<id>` always
 * means an id. Real test database, the real HTTP API and the real CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { warnNumericTenantCodes } from '../../src/app.js';
import { Readiness } from '../../src/observability/readiness.js';
import { createTenant } from '../../src/services/tenants.js';
import { getTenant } from '../../src/tenants/tenants.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { createLogger } from '../../src/util/logger.js';
import { runCliIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { SYSTEM, testServices } from '../helpers/services.js';

const BOOT = 'bootstrap-operator-token-tenant-refs-01';
let db: TestDb;
let http: HttpServer;
let base: string;
const prefix = testPrefix();
const env = () => ({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' });

beforeAll(async () => {
  db = await createTestDb();
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, 'api.operatorToken': BOOT });
  http = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services: testServices(db.pool, { config }) });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
});
afterAll(async () => {
  await http.close();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

async function api(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${BOOT}`, ...(body ? { 'content-type': 'application/json' } : {}), ...(key ? { 'idempotency-key': key } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json() };
}

const paidFen = async (id: bigint): Promise<bigint> => (await tenantBuckets(db.pool, id)).reduce((s, b) => s + b.balanceFen, 0n);

/** A tenant row as an older version could write it (no code rule then). */
async function legacyTenant(code: string): Promise<bigint> {
  return (await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name) values ($1, $2) returning id`, [code, `Legacy ${code} Co., Ltd.`])).rows[0]!.id;
}

describe('all-digit tenant codes', () => {
  it('are refused on create: service, API (400) and CLI (exit 2) share the one rule; nothing is created', async () => {
    await expect(createTenant(testServices(db.pool), SYSTEM, { code: '2', legalName: 'Two Co., Ltd.' })).rejects.toThrow(/tenant code "2".*not only digits/);
    const r = await api('POST', '/v1/tenants', { code: '42', legalName: 'Forty-two Co., Ltd.' });
    expect([r.status, r.body.error.code]).toEqual([400, 'bad_request']);
    expect(r.body.error.message).toMatch(/not only digits/);
    const c = await runCliIn(['tenant', 'create', '--code', '0815', '--legal-name', 'Zero Co., Ltd.'], env());
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/not only digits/);
    expect((await db.pool.query(`select code from tenants where code ~ '^[0-9]+$'`)).rows).toEqual([]);
    // codes with digits and a letter stay fine
    expect((await createTenant(testServices(db.pool), SYSTEM, { code: '2b', legalName: 'Two B Co., Ltd.' })).tenant.code).toBe('2b');
  });

  it('a top-up by id never credits a tenant whose (legacy) code is that number: ambiguous is refused, #<id> is the id', async () => {
    const target = (await createTenant(testServices(db.pool), SYSTEM, { code: 'target', legalName: 'Target Co., Ltd.' })).tenant.id;
    const squatter = await legacyTenant(target.toString());
    const r = await api('POST', `/v1/tenants/${target}/top-ups`, { amount: '100.00' }, `amb-${target}`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(new RegExp(`tenant reference "${target}" is ambiguous.*#${target}.*#${squatter}`));
    expect([await paidFen(target), await paidFen(squatter)]).toEqual([0n, 0n]);
    const ok = await api('POST', `/v1/tenants/${encodeURIComponent(`#${target}`)}/top-ups`, { amount: '100.00' }, `id-${target}`);
    expect(ok.status).toBe(201);
    expect([await paidFen(target), await paidFen(squatter)]).toEqual([10_000n, 0n]);
    // the CLI reads references the same way
    const cli = await runCliIn(['balance', 'show', '--tenant', target.toString()], env());
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/ambiguous/);
    expect((await runCliIn(['balance', 'show', '--tenant', `#${squatter}`, '--json'], env())).code).toBe(0);
  });

  it('unambiguous references keep working: a code, a plain id, and a legacy all-digit code that is no tenant\'s id', async () => {
    const t = (await createTenant(testServices(db.pool), SYSTEM, { code: 'plain', legalName: 'Plain Co., Ltd.' })).tenant;
    expect((await api('GET', '/v1/tenants/plain')).body.id).toBe(t.id.toString());
    expect((await api('GET', `/v1/tenants/${t.id}`)).body.code).toBe('plain');
    const legacy = await legacyTenant('987654321');
    expect((await api('GET', '/v1/tenants/987654321')).body.id).toBe(legacy.toString());
    expect((await getTenant(db.pool, `#${legacy}`)).code).toBe('987654321');
    await expect(getTenant(db.pool, '#987654321')).rejects.toThrow(/no tenant/);
    expect((await api('GET', '/v1/tenants/%23987654321')).status).toBe(404);
  });

  it('at start-up, all-digit codes already in the database are named in a warning that says what to do', async () => {
    const lines: { level: number; msg: string; codes?: unknown }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as never) });
    await warnNumericTenantCodes(db.pool, log);
    const w = lines.find((l) => l.level === 40);
    expect(w?.msg).toMatch(/tenant codes made only of digits.*#<id>/);
    expect(JSON.stringify(w?.codes)).toContain('987654321');
  });
});
