// Notice delivery on a real test database, with a real local HTTP server (node:http) as the tenants' webhook.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createChargingRedis, waitReady } from '../../src/charging/redis.js';
import { createPool } from '../../src/db/pool.js';
import { startMaintenance } from '../../src/jobs/maintenance.js';
import { deliverPending } from '../../src/notify/notifier.js';
import { retryDelayMs } from '../../src/notify/policy.js';
import { metrics } from '../../src/observability/metrics.js';
import { createTenant } from '../../src/tenants/tenants.js';
import { freePort } from '../helpers/ports.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import type { Logger } from '../../src/util/logger.js';

interface Received { path: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }

let db: TestDb;
let server: Server;
let base: string;
let received: Received[] = [];
const hits = new Map<string, number>(); // per path, for scripted answers

beforeAll(async () => {
  db = await createTestDb();
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      received.push({ path, headers: req.headers, body: JSON.parse(data) as Record<string, unknown> });
      const answer = (status: number, text: string): void => void res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      if (path === '/ok') answer(200, 'ok');
      else if (path === '/flaky') answer(n === 1 ? 500 : 204, n === 1 ? 'boom' : '');
      else if (path === '/down') answer(503, 'maintenance');
      else if (path === '/redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (path === '/slow') setTimeout(() => answer(200, 'ok'), 5); // overlaps the two concurrent senders
      else if (path === '/hang') return; // never answers: the sender's timeout must end the attempt
      else answer(404, 'no such path');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await db.drop();
});

beforeEach(async () => {
  await db.pool.query('delete from notifications');
  received = [];
  hits.clear();
});

// a generous webhook timeout (a loaded machine may take a while to answer); the timeout case has its own short one.
// The receiver listens on 127.0.0.1, which tenants' webhooks may reach only when the operator allows it (as here;
// test/notify/webhook-ssrf.test.ts shows the refusal without it).
const LOOPBACK = { 'notify.webhookAllowCidrs': ['127.0.0.1/32'] };
const config = loadConfig({}, { 'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 30_000, ...LOOPBACK });
const shortTimeout = loadConfig({}, { 'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 300, ...LOOPBACK });

function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

let tenantSeq = 0;
async function tenant(opts: { webhook?: string | null; email?: string; sms?: string } = {}): Promise<{ id: bigint; code: string }> {
  const code = `t${++tenantSeq}`;
  const t = await createTenant(db.pool, { code, legalName: `${code} Co., Ltd.`, notifyEmail: opts.email ?? null, notifySms: opts.sms ?? null });
  // set directly, as an operator's SQL could: createTenant would refuse the malformed URLs this test needs
  if (opts.webhook !== undefined) await db.pool.query('update tenants set notify_webhook = $2 where id = $1', [t.id.toString(), opts.webhook]);
  return { id: t.id, code };
}

const PAYLOAD = { balanceFen: '1000', totalPrepaidFen: '1100000', reasons: ['below_percent'], amountDueFen: '42000', topUpBy: '2026-11-27T16:00:00.000Z' };

async function notice(tenantId: bigint, channel: string, payload: Record<string, unknown> = PAYLOAD): Promise<bigint> {
  const r = await db.pool.query<{ id: bigint }>(
    // due 1 ms ago: PostgreSQL's now() has microseconds, a JS Date only milliseconds (a row made in the same ms
    // as `new Date()` would otherwise not be due yet at that Date)
    `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, next_attempt_at) values ($1, 'low_balance', $2, $3, $4, now() - interval '1 millisecond') returning id`,
    [tenantId.toString(), channel, `test:${randomUUID()}`, JSON.stringify(payload)],
  );
  return r.rows[0]!.id;
}

interface Row { attempts: number; error: string | null; sent_at: Date | null; next_attempt_at: Date | null; failed_at: Date | null }
async function row(id: bigint): Promise<Row> {
  return (await db.pool.query<Row>('select attempts, error, sent_at, next_attempt_at, failed_at from notifications where id = $1', [id.toString()])).rows[0]!;
}

async function counted(channel: string, outcome: string): Promise<number> {
  return (await metrics.notificationsTotal.get()).values.find((v) => v.labels.channel === channel && v.labels.outcome === outcome)?.value ?? 0;
}

const none = { sent: 0, retry: 0, failed: 0, no_provider: 0 };

describe('webhook', () => {
  it('is delivered once: POST of the notice as JSON with the notification id as Idempotency-Key; sent_at = now', async () => {
    const t = await tenant({ webhook: `${base}/ok` });
    const id = await notice(t.id, 'webhook');
    const at = new Date();
    const before = await counted('webhook', 'sent');
    const { logger } = capture();

    expect(await deliverPending({ pool: db.pool, logger, config, now: () => at })).toEqual({ ...none, sent: 1 });
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.path).toBe('/ok');
    expect(r.headers['idempotency-key']).toBe(id.toString());
    expect(r.headers['content-type']).toBe('application/json');
    const created = (await db.pool.query<{ created_at: Date }>('select created_at from notifications where id = $1', [id.toString()])).rows[0]!.created_at;
    expect(r.body).toEqual({ ...PAYLOAD, notificationId: id.toString(), tenant: t.code, kind: 'low_balance', createdAt: created.toISOString() });
    expect(await row(id)).toMatchObject({ attempts: 1, error: null, sent_at: at, next_attempt_at: null, failed_at: null });
    expect(await counted('webhook', 'sent')).toBe(before + 1);

    // a sent row is never taken again
    expect(await deliverPending({ pool: db.pool, logger, config, now: () => new Date(at.getTime() + 86_400_000) })).toEqual(none);
    expect(received).toHaveLength(1);
  });

  it('a 500 then a 200: the status is kept (not the body), retried after the backoff (not before), then sent with the same key and body', async () => {
    const t = await tenant({ webhook: `${base}/flaky` });
    const id = await notice(t.id, 'webhook');
    const t0 = new Date();
    const { logger } = capture();
    const retryBefore = await counted('webhook', 'retry');

    expect(await deliverPending({ pool: db.pool, logger, config, now: () => t0 })).toEqual({ ...none, retry: 1 });
    expect(await row(id)).toMatchObject({ attempts: 1, error: 'HTTP 500', sent_at: null, next_attempt_at: new Date(t0.getTime() + retryDelayMs(1)) });
    expect(await counted('webhook', 'retry')).toBe(retryBefore + 1);

    // not yet due
    expect(await deliverPending({ pool: db.pool, logger, config, now: () => new Date(t0.getTime() + retryDelayMs(1) - 1) })).toEqual(none);
    expect(received).toHaveLength(1);

    const t1 = new Date(t0.getTime() + retryDelayMs(1));
    expect(await deliverPending({ pool: db.pool, logger, config, now: () => t1 })).toEqual({ ...none, sent: 1 });
    expect(received).toHaveLength(2);
    expect(received[1]!.headers['idempotency-key']).toBe(id.toString());
    expect(received[1]!.body).toEqual(received[0]!.body);
    expect(await row(id)).toMatchObject({ attempts: 2, error: null, sent_at: t1, next_attempt_at: null });
  });

  it('gives up after notify.maxAttempts with exponential backoff: marked failed, row and error kept, counted', async () => {
    const t = await tenant({ webhook: `${base}/down` });
    const id = await notice(t.id, 'webhook');
    const { logger, lines } = capture();
    const failedBefore = await counted('webhook', 'failed');
    let at = new Date();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= config.notify.maxAttempts; attempt++) {
      const r = await deliverPending({ pool: db.pool, logger, config, now: () => at });
      expect(r).toEqual(attempt < config.notify.maxAttempts ? { ...none, retry: 1 } : { ...none, failed: 1 });
      const next = (await row(id)).next_attempt_at;
      if (next) {
        waits.push(next.getTime() - at.getTime());
        at = next;
      }
    }
    expect(waits).toEqual([60_000, 120_000]);
    expect(await row(id)).toMatchObject({ attempts: 3, error: 'HTTP 503', sent_at: null, next_attempt_at: null, failed_at: at });
    expect(await counted('webhook', 'failed')).toBe(failedBefore + 1);
    expect(lines.some((l) => l.level === 40 && l.notificationId === id.toString() && /failed for good/.test(String(l.msg)))).toBe(true);
    // a failed row is not taken again
    expect(await deliverPending({ pool: db.pool, logger, config, now: () => new Date(at.getTime() + 7 * 86_400_000) })).toEqual(none);
    expect(received).toHaveLength(3);
  });

  it('two concurrent deliverPending calls (two pools, as two instances) send each row exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await tenant({ webhook: `${base}/slow` });
      for (let j = 0; j < 15; j++) ids.push((await notice(t.id, 'webhook')).toString());
    }
    const a = createPool(db.url, 4);
    const b = createPool(db.url, 4);
    try {
      const { logger } = capture();
      const at = new Date();
      const [ra, rb] = await Promise.all([
        deliverPending({ pool: a, logger, config, now: () => at }),
        deliverPending({ pool: b, logger, config, now: () => at }),
      ]);
      expect(ra.sent + rb.sent).toBe(ids.length);
      expect(ra.retry + rb.retry + ra.failed + rb.failed).toBe(0);
    } finally {
      await a.end();
      await b.end();
    }
    const keys = received.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(ids.length);
    expect(new Set(keys)).toEqual(new Set(ids));
    const unsent = await db.pool.query('select id from notifications where sent_at is null');
    expect(unsent.rowCount).toBe(0);
  });

  it('a bad or missing URL, a refused connection, a redirect and a timeout are errors on the row, never a crash', async () => {
    const deadPort = await freePort(); // nothing listens there
    const cases: [string | null, RegExp][] = [
      ['ftp://example.com/notify', /bad webhook URL "ftp:\/\/example.com\/notify": only http and https are allowed/],
      ['http://[::1', /bad webhook URL .*not a URL/],
      ['javascript:alert(1)', /only http and https are allowed/],
      [null, /tenant has no notify_webhook URL/],
      [`http://127.0.0.1:${deadPort}/x`, /^request failed: connection refused$/],
      [`${base}/redirect`, /^HTTP 302$/],
    ];
    const ids: bigint[] = [];
    for (const [url] of cases) ids.push(await notice((await tenant({ webhook: url })).id, 'webhook'));
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config })).toEqual({ ...none, retry: cases.length });
    // the server that never answers, under the short timeout
    cases.push([`${base}/hang`, /^no answer within 300 ms$/]);
    ids.push(await notice((await tenant({ webhook: `${base}/hang` })).id, 'webhook'));
    expect(await deliverPending({ pool: db.pool, logger, config: shortTimeout })).toEqual({ ...none, retry: 1 });
    for (const [i, [, error]] of cases.entries()) {
      const r = await row(ids[i]!);
      expect(r.error).toMatch(error);
      expect(r).toMatchObject({ attempts: 1, sent_at: null, failed_at: null });
      expect(r.next_attempt_at).not.toBeNull();
    }
    // only the two well-formed local URLs that answer or hang reached the server; the redirect was not followed
    expect(received.map((r) => r.path).sort()).toEqual(['/hang', '/redirect']);
  });
});

describe('email, sms, log', () => {
  it('email and sms stay unsent with the no-provider error, parked for an operator (not taken again)', async () => {
    const t = await tenant({ email: 'ops@example.com', sms: '+8613800138000' });
    const email = await notice(t.id, 'email', { ...PAYLOAD, to: 'ops@example.com' });
    const sms = await notice(t.id, 'sms', { ...PAYLOAD, to: '+8613800138000' });
    const { logger, lines } = capture();
    const before = await counted('email', 'no_provider');

    expect(await deliverPending({ pool: db.pool, logger, config })).toEqual({ ...none, no_provider: 2 });
    expect(await row(email)).toMatchObject({ attempts: 0, error: 'no email provider configured', sent_at: null, next_attempt_at: null, failed_at: null });
    expect(await row(sms)).toMatchObject({ attempts: 0, error: 'no sms provider configured', sent_at: null, next_attempt_at: null, failed_at: null });
    expect(await counted('email', 'no_provider')).toBe(before + 1);
    expect(lines.filter((l) => l.level === 40 && /an operator must deliver it/.test(String(l.msg))).map((l) => l.channel).sort()).toEqual(['email', 'sms']);

    expect(await deliverPending({ pool: db.pool, logger, config, now: () => new Date(Date.now() + 86_400_000) })).toEqual(none);
    expect(await counted('email', 'no_provider')).toBe(before + 1);
    expect(received).toHaveLength(0);
  });

  it('the log channel writes a warn line with the notice and is marked sent', async () => {
    const t = await tenant();
    const id = await notice(t.id, 'log');
    const { logger, lines } = capture();
    const at = new Date();
    expect(await deliverPending({ pool: db.pool, logger, config, now: () => at })).toEqual({ ...none, sent: 1 });
    expect(await row(id)).toMatchObject({ attempts: 1, error: null, sent_at: at, next_attempt_at: null });
    const line = lines.find((l) => l.notificationId === id.toString());
    expect(line).toMatchObject({ level: 40, tenant: t.code, kind: 'low_balance', channel: 'log', payload: PAYLOAD });
  });
});

describe('maintenance loop', () => {
  it('a maintenance round sends the pending notices (after the low-balance check)', async () => {
    const prefix = testPrefix();
    const redis = testChargingRedis(prefix);
    try {
      await waitReady(redis);
      const t = await tenant({ webhook: `${base}/ok` });
      const hook = await notice(t.id, 'webhook');
      const log = await notice(t.id, 'log');
      const { logger, lines } = capture();
      const m = startMaintenance({ pool: db.pool, redis, config, logger, intervalMs: 3_600_000 });
      await m.runOnce();
      m.stop();
      expect(lines.filter((l) => /maintenance step failed/.test(String(l.msg)))).toEqual([]);
      expect((await row(hook)).sent_at).not.toBeNull();
      expect((await row(log)).sent_at).not.toBeNull();
      expect(received.map((r) => r.headers['idempotency-key'])).toEqual([hook.toString()]);
    } finally {
      await redis.quit();
      await deleteKeys(TEST_REDIS_URL, prefix);
    }
  });

  it('with Redis unreachable the reconcile step fails and is logged, and the notices are still sent', async () => {
    const dead = await freePort();
    const redis = testChargingRedis('dead:', {}, {}, `redis://127.0.0.1:${dead}/0`);
    redis.on('error', () => undefined);
    try {
      const t = await tenant({ webhook: `${base}/ok` });
      const hook = await notice(t.id, 'webhook');
      const { logger, lines } = capture();
      const m = startMaintenance({ pool: db.pool, redis, config, logger, intervalMs: 3_600_000 });
      await m.runOnce();
      m.stop();
      expect(lines.filter((l) => /maintenance step failed/.test(String(l.msg))).map((l) => l.step)).toEqual(['reconcile']);
      expect((await row(hook)).sent_at).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});
