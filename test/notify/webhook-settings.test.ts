/**
 * Webhook URLs are checked when they are set, by the one service operation the CLI and the API call: a URL whose host
 * is (or resolves to) a non-public address is refused with a clear error (API 400, CLI exit 2) and nothing changes.
 * Names that must resolve to chosen addresses go through the services' resolver hook (`resolveHost`, standing in for
 * DNS, which this machine has none of). Real test database, the real HTTP API and the real CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { Readiness } from '../../src/observability/readiness.js';
import { createTenant, updateNoticeSettings } from '../../src/services/tenants.js';
import { InputError } from '../../src/services/errors.js';
import type { HostResolver } from '../../src/notify/webhook-target.js';
import { createLogger } from '../../src/util/logger.js';
import { runCliIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { SYSTEM, testServices } from '../helpers/services.js';

const BOOT = 'bootstrap-operator-token-webhooks-0123';
let db: TestDb;
let http: HttpServer;
let base: string;
const prefix = testPrefix();

const dns: HostResolver = async (host) => {
  const table: Record<string, string[]> = { 'intranet.tenant.test': ['192.168.7.7'], 'public.tenant.test': ['93.184.216.34'] };
  const a = table[host];
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: 4 as const }));
};

beforeAll(async () => {
  db = await createTestDb();
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, 'api.operatorToken': BOOT });
  http = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services: { ...testServices(db.pool, { config }), resolveHost: dns } });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
  await createTenant({ ...testServices(db.pool), resolveHost: dns }, SYSTEM, { code: 'acme', legalName: 'Acme Co., Ltd.' });
});

afterAll(async () => {
  await http.close();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

const stored = async (): Promise<string | null> =>
  (await db.pool.query<{ notify_webhook: string | null }>(`select notify_webhook from tenants where code = 'acme'`)).rows[0]!.notify_webhook;

describe('webhook URL at settings time', () => {
  it('the service refuses loopback, private and link-local hosts, literal or by name, and keeps a public one', async () => {
    const deps = { ...testServices(db.pool), resolveHost: dns };
    for (const url of ['http://127.0.0.1:8080/x', 'http://[::1]/x', 'http://10.0.0.8/x', 'https://intranet.tenant.test/hook', 'http://169.254.169.254/', 'http://[::ffff:192.168.0.1]/']) {
      const e = await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: url }).catch((x: unknown) => x);
      expect(e, url).toBeInstanceOf(InputError);
      expect((e as InputError).message).toMatch(/notifyWebhook: the host is not a public address \(loopback, private, link-local/);
    }
    const unknown = await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: 'https://nowhere.tenant.test/x' }).catch((x: unknown) => x);
    expect((unknown as Error).message).toMatch(/notifyWebhook: the host nowhere\.tenant\.test does not resolve/);
    expect(await stored()).toBeNull();
    expect((await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: 'https://public.tenant.test/hook' })).notifyWebhook).toBe('https://public.tenant.test/hook');
    expect((await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: null })).notifyWebhook).toBeNull();
  });

  it('an operator allow-list (config, not tenant input) admits a private receiver', async () => {
    const deps = { ...testServices(db.pool, { overrides: { 'notify.webhookAllowCidrs': ['192.168.7.0/24'] } }), resolveHost: dns };
    expect((await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: 'https://intranet.tenant.test/hook' })).notifyWebhook).toBe('https://intranet.tenant.test/hook');
    expect((await updateNoticeSettings(deps, SYSTEM, 'acme', { notifyWebhook: null })).notifyWebhook).toBeNull();
  });

  it('API: PATCH notice-settings and POST /v1/tenants answer 400 naming the field; nothing is stored', async () => {
    const patch = await fetch(`${base}/v1/tenants/acme/notice-settings`, {
      method: 'PATCH', headers: { authorization: `Bearer ${BOOT}`, 'content-type': 'application/json' }, body: JSON.stringify({ notifyWebhook: 'http://intranet.tenant.test/x' }),
    });
    expect(patch.status).toBe(400);
    expect(((await patch.json()) as { error: { field: string } }).error).toMatchObject({ code: 'bad_request', field: 'notifyWebhook' });
    const create = await fetch(`${base}/v1/tenants`, {
      method: 'POST', headers: { authorization: `Bearer ${BOOT}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'hooked', legalName: 'Hooked Co., Ltd.', notifyWebhook: 'http://127.0.0.1:6379/' }),
    });
    expect(create.status).toBe(400);
    expect(await stored()).toBeNull();
    expect((await db.pool.query(`select 1 from tenants where code = 'hooked'`)).rowCount).toBe(0);
  });

  it('CLI: tenant notices and tenant create exit 2 with the reason', async () => {
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const n = await runCliIn(['tenant', 'notices', 'acme', '--webhook', 'http://10.1.2.3/hook'], env);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/not a public address/);
    const c = await runCliIn(['tenant', 'create', '--code', 'hooked2', '--legal-name', 'Hooked 2 Co., Ltd.', '--webhook', 'http://[fd00::1]/x'], env);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/not a public address/);
    expect(await stored()).toBeNull();
  });
});
