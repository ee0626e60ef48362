// Notice delivery by e-mail and SMS on a real test database: a real SMTP server (smtp-server, started here on a free
// port) receives the e-mails through nodemailer, and a real local HTTP server (node:http) plays the SMS provider.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configForLog, loadConfig, type Config } from '../../src/config/config.js';
import { deliverPending } from '../../src/notify/notifier.js';
import { retryDelayMs } from '../../src/notify/policy.js';
import { createTenant, setNoticeSettings } from '../../src/tenants/tenants.js';
import { freePort } from '../helpers/ports.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import type { Logger } from '../../src/util/logger.js';

const USER = 'notices';
const PASSWORD = `pw-${randomUUID()}`; // unique, so finding it anywhere in the logs or rows is a leak

interface Mail { from: string; to: string[]; raw: string }
let db: TestDb;
let smtp: SMTPServer;
let smtpPort: number;
let mails: Mail[] = [];
let auths: string[] = [];

// RCPT answers by local part: soft… = 451 (once per address), hard… = 550, slow… = answered after 2 s
const softSeen = new Set<string>();
function rcptError(address: string): (Error & { responseCode: number }) | null {
  const local = address.split('@')[0]!;
  if (local.startsWith('soft') && !softSeen.has(address)) {
    softSeen.add(address);
    return Object.assign(new Error('4.2.1 mailbox busy, try later'), { responseCode: 451 });
  }
  if (local.startsWith('hard')) return Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 });
  return null;
}

function smtpServer(opts: { starttls: boolean }): SMTPServer {
  return new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: !opts.starttls,
    disabledCommands: opts.starttls ? [] : ['STARTTLS'],
    onAuth(auth, _session, cb) {
      auths.push(auth.username ?? '');
      if (auth.username === USER && auth.password === PASSWORD) cb(null, { user: USER });
      else cb(Object.assign(new Error('5.7.8 authentication failed'), { responseCode: 535 }));
    },
    onRcptTo(address: SMTPServerAddress, _session, cb) {
      const e = rcptError(address.address);
      cb(e ?? undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
}

interface Sms { method: string; headers: IncomingHttpHeaders; body: string }
let http: Server;
let smsBase: string;
let sms: Sms[] = [];
const smsHits = new Map<string, number>();

beforeAll(async () => {
  db = await createTestDb();
  smtp = smtpServer({ starttls: false });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as { port: number }).port;
  http = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      const n = (smsHits.get(path) ?? 0) + 1;
      smsHits.set(path, n);
      sms.push({ method: req.method ?? '', headers: req.headers, body: data });
      if (path === '/ok') res.writeHead(200).end('{"result":"queued"}');
      else if (path === '/flaky') res.writeHead(n === 1 ? 502 : 200).end(n === 1 ? 'bad gateway' : 'ok');
      else if (path === '/reject') res.writeHead(400).end('invalid phone');
      else if (path === '/hang') return;
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  smsBase = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  await db.drop();
});

beforeEach(async () => {
  await db.pool.query('delete from notifications');
  mails = [];
  auths = [];
  sms = [];
  smsHits.clear();
});

const mailConfig = (o: Record<string, unknown> = {}): Config => loadConfig({}, {
  'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 30_000, 'notify.smtpHost': '127.0.0.1', 'notify.smtpPort': smtpPort,
  'notify.smtpSecurity': 'none', 'notify.smtpUser': USER, 'notify.smtpPassword': PASSWORD, 'notify.mailFrom': 'billing@carrier.example', ...o,
});
const smsConfig = (path: string, o: Record<string, unknown> = {}): Config => loadConfig({}, {
  'notify.maxAttempts': 3, 'notify.webhookTimeoutMs': 30_000, 'notify.smsUrl': `${smsBase}${path}`,
  'notify.smsHeaders': JSON.stringify({ Authorization: `Bearer ${PASSWORD}`, 'X-Account': 'acct-7' }), ...o,
});

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) }), lines };
}

const sent = (lines: string[], msg: RegExp): Record<string, unknown> | undefined =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => msg.test(String(l.msg)));

/** No trace of the secret: not in clear, not as base64 (AUTH PLAIN / LOGIN carry it so). */
function expectNoSecret(texts: string[]): void {
  const all = texts.join('\n');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  expect(all).not.toContain(Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64'));
}

let seq = 0;
async function tenant(opts: { email?: string; sms?: string; language?: 'zh' | 'en' } = {}): Promise<{ id: bigint; code: string }> {
  const code = `n${++seq}`;
  const t = await createTenant(db.pool, { code, legalName: `${code} 科技有限公司`, notifyEmail: opts.email ?? null, notifySms: opts.sms ?? null });
  if (opts.language) await setNoticeSettings(db.pool, t.id, { notifyLanguage: opts.language });
  return { id: t.id, code };
}

const LOW = { balanceFen: '100000', totalPrepaidFen: '1100000', monthlyFeeFen: '95167', reasons: ['below_percent'], remainingMonths: 3, amountDueFen: '285501', topUpBy: '2026-10-15T16:00:00.000Z' };

async function notice(tenantId: bigint, channel: 'email' | 'sms', to: string, kind = 'low_balance', payload: Record<string, unknown> = LOW): Promise<bigint> {
  const r = await db.pool.query<{ id: bigint }>(
    // due 1 ms ago: PostgreSQL's now() has microseconds, a JS Date only milliseconds
    `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, next_attempt_at) values ($1, $2, $3, $4, $5, now() - interval '1 millisecond') returning id`,
    [tenantId.toString(), kind, channel, `test:${randomUUID()}`, JSON.stringify({ ...payload, to })],
  );
  return r.rows[0]!.id;
}

interface Row { attempts: number; error: string | null; sent_at: Date | null; next_attempt_at: Date | null; failed_at: Date | null }
async function row(id: bigint): Promise<Row> {
  return (await db.pool.query<Row>('select attempts, error, sent_at, next_attempt_at, failed_at from notifications where id = $1', [id.toString()])).rows[0]!;
}
async function allErrors(): Promise<string[]> {
  return (await db.pool.query<{ error: string | null }>('select error from notifications')).rows.map((r) => r.error ?? '');
}

/** Header and decoded text body of a raw message (RFC 2047 encoded words, quoted-printable or base64 body). */
function parse(raw: string): { headers: Record<string, string>; text: string } {
  const cut = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      .replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) => (enc.toLowerCase() === 'b'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')));
  }
  let body = raw.slice(cut + 4);
  const cte = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (cte === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (cte === 'quoted-printable') body = Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  return { headers, text: body.replace(/\r\n/g, '\n') };
}

const none = { sent: 0, retry: 0, failed: 0, no_provider: 0 };

describe('e-mail through SMTP (real smtp-server)', () => {
  it('is received with the right sender, recipients, subject and amounts, in the tenant\'s language; sent once', async () => {
    const en = await tenant({ email: 'billing@acme.example, cfo@acme.example', language: 'en' });
    const zh = await tenant({ email: 'caiwu@demo.example' });
    const a = await notice(en.id, 'email', 'billing@acme.example, cfo@acme.example');
    const b = await notice(zh.id, 'email', 'caiwu@demo.example');
    const { logger, lines } = capture();
    const at = new Date();
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig(), now: () => at })).toEqual({ ...none, sent: 2 });
    expect(mails).toHaveLength(2);
    expect(auths).toEqual([USER, USER]);

    const m1 = mails.find((m) => m.to.includes('billing@acme.example'))!;
    expect(m1.from).toBe('billing@carrier.example');
    expect(m1.to.sort()).toEqual(['billing@acme.example', 'cfo@acme.example']);
    const p1 = parse(m1.raw);
    expect(p1.headers.subject).toBe(`[${en.code}] Low balance`);
    expect(p1.headers['x-notice-id']).toBe(a.toString());
    expect(p1.headers['message-id']).toBe(`<notice-${a}@carrier.example>`);
    expect(p1.text).toContain('Your prepaid balance is CNY 1,000.00');
    expect(p1.text).toContain('Amount due: CNY 2,855.01 (monthly minimum CNY 951.67 x 3 remaining months');
    expect(p1.text).toContain('Please top up by 2026-10-15 24:00 (China time).');

    const m2 = mails.find((m) => m.to.includes('caiwu@demo.example'))!;
    expect(m2.to).toEqual(['caiwu@demo.example']);
    const p2 = parse(m2.raw);
    expect(p2.headers.subject).toBe(`【${zh.code}】余额不足提醒`);
    expect(p2.text).toContain(`${zh.code} 科技有限公司：`);
    expect(p2.text).toContain('应充值金额：2,855.01 元（月最低消费 951.67 元 × 剩余 3 个月');

    for (const id of [a, b]) expect(await row(id)).toMatchObject({ attempts: 1, error: null, sent_at: at, next_attempt_at: null, failed_at: null });
    // sent rows are never taken again
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig(), now: () => new Date(at.getTime() + 86_400_000) })).toEqual(none);
    expect(mails).toHaveLength(2);
    expectNoSecret([...lines, ...await allErrors()]);
  });

  it('a 4xx reply is retried with the notice backoff and then delivered; a 5xx reply fails the notice at once', async () => {
    const t = await tenant({ email: 'soft1@acme.example' });
    const soft = await notice(t.id, 'email', 'soft1@acme.example');
    const hard = await notice(t.id, 'email', 'hard1@acme.example');
    const { logger, lines } = capture();
    const t0 = new Date();
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig(), now: () => t0, concurrency: 1 })).toEqual({ ...none, retry: 1, failed: 1 });
    const s1 = await row(soft);
    expect(s1).toMatchObject({ attempts: 1, sent_at: null, failed_at: null, next_attempt_at: new Date(t0.getTime() + retryDelayMs(1)) });
    expect(s1.error).toMatch(/451/);
    const h1 = await row(hard);
    expect(h1).toMatchObject({ attempts: 1, sent_at: null, next_attempt_at: null, failed_at: t0 });
    expect(h1.error).toMatch(/550/);
    expect(mails).toHaveLength(0);
    // not due before the backoff
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig(), now: () => new Date(t0.getTime() + retryDelayMs(1) - 1) })).toEqual(none);
    const t1 = new Date(t0.getTime() + retryDelayMs(1));
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig(), now: () => t1 })).toEqual({ ...none, sent: 1 });
    expect(mails.map((m) => m.to)).toEqual([['soft1@acme.example']]);
    expect(await row(soft)).toMatchObject({ attempts: 2, error: null, sent_at: t1 });
    expect(lines.some((l) => /e-mail delivery failed for good/.test(l) && l.includes(hard.toString()))).toBe(true);
    expectNoSecret([...lines, ...await allErrors()]);
  });

  it('a server refusing one of several addresses: sent to the others (not again), the refused one logged', async () => {
    const t = await tenant({ email: 'ar@acme.example, hard2@acme.example' });
    const id = await notice(t.id, 'email', 'ar@acme.example, hard2@acme.example');
    const { logger, lines } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig() })).toEqual({ ...none, sent: 1 });
    expect(mails.map((m) => m.to)).toEqual([['ar@acme.example']]);
    expect(await row(id)).toMatchObject({ attempts: 1, error: null, failed_at: null });
    expect(sent(lines, /refused some of the tenant's addresses/)).toMatchObject({ refused: ['hard2@acme.example'], notificationId: id.toString() });
  });

  it('a refused connection is retried until notify.maxAttempts, then failed; the password is never logged', async () => {
    const dead = await freePort(); // nothing listens there
    const t = await tenant({ email: 'ops@acme.example' });
    const id = await notice(t.id, 'email', 'ops@acme.example');
    const { logger, lines } = capture();
    const config = mailConfig({ 'notify.smtpPort': dead });
    let at = new Date();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(await deliverPending({ pool: db.pool, logger, config, now: () => at })).toEqual(attempt < 3 ? { ...none, retry: 1 } : { ...none, failed: 1 });
      const r = await row(id);
      expect(r.error).toMatch(/ECONNREFUSED|ECONNECTION/);
      if (r.next_attempt_at) {
        waits.push(r.next_attempt_at.getTime() - at.getTime());
        at = r.next_attempt_at;
      }
    }
    expect(waits).toEqual([retryDelayMs(1), retryDelayMs(2)]);
    expect(await row(id)).toMatchObject({ attempts: 3, sent_at: null, failed_at: at });
    expectNoSecret([...lines, ...await allErrors()]);
  });

  it('a wrong password (535) fails the notice for good, and neither password shows in the logs or the row', async () => {
    const t = await tenant({ email: 'ops@acme.example' });
    const id = await notice(t.id, 'email', 'ops@acme.example');
    const { logger, lines } = capture();
    const wrong = `wrong-${randomUUID()}`;
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig({ 'notify.smtpPassword': wrong }) })).toEqual({ ...none, failed: 1 });
    const r = await row(id);
    expect(r.error).toMatch(/535/);
    expect(mails).toHaveLength(0);
    const texts = [...lines, ...await allErrors()];
    expectNoSecret(texts);
    expect(texts.join('\n')).not.toContain(wrong);
  });

  it('SMTP_SECURITY=starttls never sends the login in clear: a server whose certificate is not trusted gets no AUTH and no mail (retried)', async () => {
    const tlsServer = smtpServer({ starttls: true }); // smtp-server's own self-signed certificate
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    try {
      const port = (tlsServer.server.address() as { port: number }).port;
      const t = await tenant({ email: 'ops@acme.example' });
      const id = await notice(t.id, 'email', 'ops@acme.example');
      const { logger, lines } = capture();
      expect(await deliverPending({ pool: db.pool, logger, config: mailConfig({ 'notify.smtpPort': port, 'notify.smtpSecurity': 'starttls' }) })).toEqual({ ...none, retry: 1 });
      expect((await row(id)).error).toMatch(/certificate/i);
      expect(auths).toEqual([]);
      expect(mails).toHaveLength(0);
      expectNoSecret([...lines, ...await allErrors()]);
    } finally {
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    }
  });

  it('without SMTP_HOST the e-mail notice is parked for an operator (no_provider), as before', async () => {
    const t = await tenant({ email: 'ops@acme.example' });
    const id = await notice(t.id, 'email', 'ops@acme.example');
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config: mailConfig({ 'notify.smtpHost': '' }) })).toEqual({ ...none, no_provider: 1 });
    expect(await row(id)).toMatchObject({ attempts: 0, error: 'no email provider configured', next_attempt_at: null, failed_at: null });
  });
});

describe('SMS through the HTTP provider (local node:http server)', () => {
  it('sends the template with the phone and the notice text, the secret headers and the method; sent once', async () => {
    const t = await tenant({ sms: '+8613800138000', language: 'en' });
    const id = await notice(t.id, 'sms', '+8613800138000');
    const { logger, lines } = capture();
    const at = new Date();
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/ok', { 'notify.smsMethod': 'PUT' }), now: () => at })).toEqual({ ...none, sent: 1 });
    expect(sms).toHaveLength(1);
    const r = sms[0]!;
    expect(r.method).toBe('PUT');
    expect(r.headers.authorization).toBe(`Bearer ${PASSWORD}`);
    expect(r.headers['x-account']).toBe('acct-7');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['idempotency-key']).toBe(id.toString());
    const body = JSON.parse(r.body) as { phone: string; text: string };
    expect(body.phone).toBe('+8613800138000');
    expect(body.text).toContain(`[${t.code}] Low balance`);
    expect(body.text).toContain('Amount due: CNY 2,855.01');
    expect(await row(id)).toMatchObject({ attempts: 1, error: null, sent_at: at });
    expectNoSecret([...lines, ...await allErrors()]);
  });

  it('a form template gets URL-encoded values; hostile text cannot break out of a JSON template', async () => {
    const t = await tenant({ sms: '13800138000' });
    const payload = { ...LOW, description: 'x", "phone": "+1900evil' };
    const id = await notice(t.id, 'sms', '13800138000', 'payment_overdue', { ...payload, outstandingFen: '35556', dueAt: '2026-03-05T16:00:00.000Z', suspendAfterDays: 15 });
    const { logger } = capture();
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/ok') })).toEqual({ ...none, sent: 1 });
    const body = JSON.parse(sms[0]!.body) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['phone', 'text']);
    expect(body.phone).toBe('13800138000');
    expect(body.text).toContain('x", "phone": "+1900evil：未付 355.56 元');
    await db.pool.query("update notifications set sent_at = null, next_attempt_at = now() - interval '1 millisecond' where id = $1", [id.toString()]);
    const form = smsConfig('/ok', { 'notify.smsContentType': 'application/x-www-form-urlencoded', 'notify.smsTemplate': 'to={{phone}}&msg={{text}}&sign=acme' });
    expect(await deliverPending({ pool: db.pool, logger, config: form })).toEqual({ ...none, sent: 1 });
    const f = new URLSearchParams(sms[1]!.body);
    expect(sms[1]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect([...f.keys()]).toEqual(['to', 'msg', 'sign']);
    expect(f.get('to')).toBe('13800138000');
    expect(f.get('msg')).toContain('未付 355.56 元');
  });

  it('a 5xx is retried with the backoff and then sent; a 4xx fails at once; a timeout is retried', async () => {
    const t = await tenant({ sms: '+8613800138000' });
    const flaky = await notice(t.id, 'sms', '+8613800138000');
    const { logger, lines } = capture();
    const t0 = new Date();
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/flaky'), now: () => t0 })).toEqual({ ...none, retry: 1 });
    expect(await row(flaky)).toMatchObject({ attempts: 1, error: 'HTTP 502: bad gateway', next_attempt_at: new Date(t0.getTime() + retryDelayMs(1)) });
    const t1 = new Date(t0.getTime() + retryDelayMs(1));
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/flaky'), now: () => t1 })).toEqual({ ...none, sent: 1 });
    expect(await row(flaky)).toMatchObject({ attempts: 2, error: null, sent_at: t1 });

    const rejected = await notice(t.id, 'sms', '+8613800138000');
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/reject'), now: () => t1 })).toEqual({ ...none, failed: 1 });
    expect(await row(rejected)).toMatchObject({ attempts: 1, error: 'HTTP 400: invalid phone', failed_at: t1, next_attempt_at: null });

    const hung = await notice(t.id, 'sms', '+8613800138000');
    expect(await deliverPending({ pool: db.pool, logger, config: smsConfig('/hang', { 'notify.webhookTimeoutMs': 300 }), now: () => t1 })).toEqual({ ...none, retry: 1 });
    expect(await row(hung)).toMatchObject({ attempts: 1, error: 'no answer within 300 ms', failed_at: null });

    const refused = await notice(t.id, 'sms', '+8613800138000');
    const dead = await freePort();
    expect(await deliverPending({ pool: db.pool, logger, config: loadConfig({}, { 'notify.smsUrl': `http://127.0.0.1:${dead}/sms` }), now: () => t1 })).toEqual({ ...none, retry: 1 });
    expect((await row(refused)).error).toMatch(/^request failed: /);
    expectNoSecret([...lines, ...await allErrors()]);
  });

  it('bad SMS_PROVIDER_HEADERS stop start-up without showing their value', () => {
    for (const bad of ['{"Authorization": 5}', '{"Bad Header": "x"}', '{"X": "a\\r\\nInjected: 1"}', '{not json}']) {
      expect(() => loadConfig({ SMS_PROVIDER_HEADERS: bad })).toThrow(/SMS_PROVIDER_HEADERS.*<secret, not shown>/);
    }
    expect(() => loadConfig({ SMTP_PASSWORD: 'x' })).toThrow(/SMTP_USER/);
    // the config as logged at start-up hides both secrets
    const shown = JSON.stringify(configForLog(mailConfig()));
    expect(JSON.stringify(configForLog(smsConfig('/ok')))).not.toContain(PASSWORD);
    expect(shown).not.toContain(PASSWORD);
    expect(shown).toContain('"smtpUser":"notices"');
  });
});
