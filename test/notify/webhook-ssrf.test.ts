/**
 * A tenant's webhook URL must not turn the notifier into a way into our own network (SSRF): loopback, private,
 * link-local, unique-local, multicast, unspecified, CGNAT and the IPv6 forms that embed such an IPv4 address are
 * refused after DNS resolution, the connection goes to the address that was checked, and the row keeps a status code
 * and a short fixed reason, never what the server answered. Real test database, a real HTTP server on 127.0.0.1.
 * Names that must resolve to chosen addresses go through the notifier's resolver hook (`resolveHost`, a stand-in for
 * DNS, which this machine has none of); the sending itself is the product's.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { deliverPending } from '../../src/notify/notifier.js';
import type { HostResolver } from '../../src/notify/webhook-target.js';
import { createTenant } from '../../src/tenants/tenants.js';
import { listenLocal, type LocalServer } from '../helpers/http-server.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import type { Logger } from '../../src/util/logger.js';

let db: TestDb;
let server: LocalServer;
let port: number;
let received: { path: string; headers: IncomingHttpHeaders }[] = [];
const SECRET = 'internal-answer-7f3a: db password is hunter2';

beforeAll(async () => {
  db = await createTestDb();
  server = await listenLocal((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers });
      res.writeHead(req.url === '/secret' ? 500 : 200, { 'content-type': 'text/plain' }).end(SECRET);
    });
  });
  port = server.port;
});

afterAll(async () => {
  await server.close();
  await db.drop();
});

beforeEach(async () => {
  received = [];
  await db.pool.query('delete from notifications');
});

const config = loadConfig({}, { 'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 30_000 });
// what an operator sets where the tenants' receivers really are on a private network (never tenant input)
const allowLoopback = () => loadConfig({}, { 'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 30_000, 'notify.webhookAllowCidrs': ['127.0.0.1/32'] });

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }), lines };
}

let seq = 0;
/** A tenant whose notify_webhook is set directly, as a row written before the settings check existed could be. */
async function tenantWithWebhook(url: string): Promise<bigint> {
  const t = await createTenant(db.pool, { code: `ssrf${++seq}`, legalName: `SSRF ${seq} Co., Ltd.` });
  await db.pool.query('update tenants set notify_webhook = $2 where id = $1', [t.id.toString(), url]);
  return t.id;
}

async function notice(tenantId: bigint): Promise<bigint> {
  return (await db.pool.query<{ id: bigint }>(
    `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, next_attempt_at) values ($1, 'low_balance', 'webhook', $2, '{}', now() - interval '1 millisecond') returning id`,
    [tenantId.toString(), `ssrf:${randomUUID()}`],
  )).rows[0]!.id;
}

async function row(id: bigint): Promise<{ attempts: number; error: string | null; sent_at: Date | null; failed_at: Date | null }> {
  return (await db.pool.query('select attempts, error, sent_at, failed_at from notifications where id = $1', [id.toString()])).rows[0];
}

/** A resolver hook answering fixed addresses per name, counting how often it was asked. */
function fakeDns(answers: Record<string, string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const f = async (host: string) => {
    asked.push(host);
    const a = answers[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const }));
  };
  return Object.assign(f, { asked });
}

const none = { sent: 0, retry: 0, failed: 0, no_provider: 0 };

describe('webhook targets are checked after DNS resolution, at send time', () => {
  it('a webhook on 127.0.0.1 (a real server listening there) is refused: nothing reaches it, the row fails with a fixed reason', async () => {
    const id = await notice(await tenantWithWebhook(`http://127.0.0.1:${port}/ok`));
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config })).toEqual({ ...none, failed: 1 });
    expect(received).toEqual([]);
    const r = await row(id);
    expect(r).toMatchObject({ attempts: 1, sent_at: null });
    expect(r.error).toBe('webhook host is not a public address (refused)');
  });

  it.each([
    ['localhost name', 'http://localhost:%P/ok'],
    ['IPv6 loopback', 'http://[::1]:%P/ok'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]:%P/ok'],
    ['decimal IPv4 of 127.0.0.1', 'http://2130706433:%P/ok'],
    ['unspecified 0.0.0.0', 'http://0.0.0.0:%P/ok'],
    ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data/'],
  ])('%s is refused without a request', async (_name, url) => {
    const id = await notice(await tenantWithWebhook(url.replace('%P', String(port))));
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config, resolveHost: fakeDns({ localhost: ['127.0.0.1', '::1'] }) })).toEqual({ ...none, failed: 1 });
    expect(received).toEqual([]);
    expect((await row(id)).error).toBe('webhook host is not a public address (refused)');
  });

  it('a name that resolves to a private address (test resolver hook standing in for DNS) is refused without connecting', async () => {
    const dns = fakeDns({ 'hooks.tenant.test': ['10.20.30.40'], 'mixed.tenant.test': ['93.184.216.34', '192.168.1.10'], 'mapped.tenant.test': ['::ffff:10.0.0.1'] });
    const ids = [
      await notice(await tenantWithWebhook(`http://hooks.tenant.test:${port}/ok`)),
      await notice(await tenantWithWebhook(`https://mixed.tenant.test/ok`)),
      await notice(await tenantWithWebhook(`http://mapped.tenant.test:${port}/ok`)),
    ];
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config, resolveHost: dns })).toEqual({ ...none, failed: 3 });
    expect(dns.asked.sort()).toEqual(['hooks.tenant.test', 'mapped.tenant.test', 'mixed.tenant.test']);
    expect(received).toEqual([]);
    for (const id of ids) expect((await row(id)).error).toBe('webhook host is not a public address (refused)');
  });

  it('a name that does not resolve is a passing failure (retried), with a fixed reason', async () => {
    const id = await notice(await tenantWithWebhook('https://gone.tenant.test/hook'));
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config, resolveHost: fakeDns({}) })).toEqual({ ...none, retry: 1 });
    expect((await row(id)).error).toBe('webhook host does not resolve');
  });

  it('the connection goes to the address that was checked: the name is resolved once and never again by the HTTP client', async () => {
    // the operator allows the loopback receiver; the name exists only in the test resolver, so a second resolution
    // by the HTTP client (the DNS-rebinding window) would fail instead of reaching the server
    const dns = fakeDns({ 'receiver.tenant.test': ['127.0.0.1'] });
    const id = await notice(await tenantWithWebhook(`http://receiver.tenant.test:${port}/ok`));
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config: allowLoopback(), resolveHost: dns })).toEqual({ ...none, sent: 1 });
    expect(dns.asked).toEqual(['receiver.tenant.test']);
    expect(received.map((r) => [r.path, r.headers.host])).toEqual([['/ok', `receiver.tenant.test:${port}`]]);
    expect((await row(id)).sent_at).not.toBeNull();
  });

  it('the row and the log keep the status code and a fixed reason, never the body the server answered', async () => {
    const id = await notice(await tenantWithWebhook(`http://127.0.0.1:${port}/secret`));
    const { logger, lines } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config: allowLoopback() })).toEqual({ ...none, retry: 1 });
    expect(received.map((r) => r.path)).toEqual(['/secret']);
    expect((await row(id)).error).toBe('HTTP 500');
    expect(lines.join('\n')).not.toContain('hunter2');
  });
});
