/**
 * `softswitch api-token issue|list|revoke` through the CLI's entry function runCli (what bin/softswitch.js runs,
 * output captured) against a test database, and the issued token used on the HTTP API: it reaches its tenant, and
 * stops working once revoked. (Exit statuses as a separate process sees them: test/cli/cli.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { loadConfig } from '../../src/config/config.js';
import { Readiness } from '../../src/observability/readiness.js';
import { createLogger } from '../../src/util/logger.js';
import { runCliIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { testServices } from '../helpers/services.js';

let db: TestDb;
let http: HttpServer;
let base: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'silent' });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  db = await createTestDb();
  await db.pool.query(`insert into tenants (code, legal_name) values ('acme', 'ACME Ltd'), ('globex', 'Globex Ltd')`);
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0 });
  http = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services: testServices(db.pool, { config }) });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
});

afterAll(async () => {
  await http?.close();
  await db?.drop();
});

describe('api-token CLI', () => {
  it('issues a token that reaches exactly its tenant, lists it without the secret, and revokes it', async () => {
    const issued = await cli('api-token', 'issue', '--tenant', 'acme', '--label', 'portal', '--json');
    expect(issued.code, issued.err).toBe(0);
    const { id, token } = JSON.parse(issued.out) as { id: string; token: string };
    expect(token).toMatch(/^sst_/);

    const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await me.json()) as any).tenant.code).toBe('acme');
    expect((await fetch(`${base}/v1/tenants/globex`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);

    const listed = await cli('api-token', 'list', '--tenant', 'acme', '--json');
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).not.toContain(token);
    expect(JSON.parse(listed.out).tokens).toMatchObject([{ id, label: 'portal', revokedAt: null }]);

    const revoked = await cli('api-token', 'revoke', id);
    expect(revoked.code, revoked.err).toBe(0);
    expect((await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('refuses bad input with exit 2 and a message on stderr', async () => {
    const [unknownTenant, badId, missing] = await Promise.all([
      cli('api-token', 'issue', '--tenant', 'nobody'),
      cli('api-token', 'revoke', 'abc'),
      cli('api-token', 'revoke', '999999'),
    ]);
    expect(unknownTenant.code).toBe(2);
    expect(unknownTenant.err).toMatch(/nobody/);
    expect(badId.code).toBe(2);
    expect(badId.err).toMatch(/positive integer/);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no active API token/);
  });
});
