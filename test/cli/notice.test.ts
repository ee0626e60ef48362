/**
 * `softswitch tenant notices --language`, `notice list` and `notice retry` (in-process runCli, real test database).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { runCliIn } from '../helpers/cli.js';

let db: TestDb;
const prefix = testPrefix();
const run = (args: string[]) => runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' });

beforeAll(async () => {
  db = await createTestDb();
  const t = await run(['tenant', 'create', '--code', 'acme', '--legal-name', 'Acme Trading Co., Ltd.']);
  expect(t.code, t.stderr).toBe(0);
});
afterAll(async () => {
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

describe('notice settings and notices from the CLI', () => {
  it('tenant notices: several e-mail addresses and the notice language; bad input exits 2 and changes nothing', async () => {
    const r = await run(['tenant', 'notices', 'acme', '--email', 'ar@acme.example,cfo@acme.example', '--sms', '+8613800138000', '--language', 'en']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('e-mail ar@acme.example, cfo@acme.example, SMS +8613800138000, webhook -, language en');
    const bad = await run(['tenant', 'notices', 'acme', '--email', 'ar@acme.example, nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not an e-mail address: "nope"/);
    expect((await run(['tenant', 'notices', 'acme', '--language', 'fr'])).code).toBe(2);
    const back = await run(['tenant', 'notices', 'acme', '--language', 'default', '--json']);
    expect(JSON.parse(back.stdout)).toMatchObject({ notifyEmail: 'ar@acme.example, cfo@acme.example', notifyLanguage: null });
  });

  it('notice list shows the delivery state; notice retry re-queues a failed one (audited) and refuses a sent one', async () => {
    const id = (await db.pool.query<{ id: string }>(`select id::text as id from tenants where code = 'acme'`)).rows[0]!.id;
    const failed = (await db.pool.query<{ id: string }>(
      `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, attempts, error, next_attempt_at, failed_at)
       values ($1, 'low_balance', 'sms', 'cli:failed', '{"to":"+8613800138000"}', 8, 'HTTP 400: invalid phone', null, now()) returning id::text as id`, [id])).rows[0]!.id;
    const sent = (await db.pool.query<{ id: string }>(
      `insert into notifications (tenant_id, kind, channel, dedupe_key, payload, attempts, sent_at) values ($1, 'low_balance', 'log', 'cli:sent', '{}', 1, now()) returning id::text as id`, [id])).rows[0]!.id;
    const list = await run(['notice', 'list', '--tenant', 'acme', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((n: { id: string; state: string }) => [n.id, n.state])).toEqual([[sent, 'sent'], [failed, 'failed']]);
    const text = await run(['notice', 'list', '--state', 'failed']);
    expect(text.stdout).toMatch(new RegExp(`${failed}\\s+acme\\s+low_balance\\s+sms\\s+\\+8613800138000\\s+failed\\s+8`));
    const retry = await run(['notice', 'retry', failed]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`notice ${failed} (acme low_balance by sms) queued again: pending`);
    const refused = await run(['notice', 'retry', sent]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is sent: only a failed or parked notice/);
    expect((await run(['notice', 'retry', 'x'])).code).toBe(2);
    const audit = (await db.pool.query(`select actor_kind, target_id from audit_log where action = 'notice.retry'`)).rows;
    expect(audit).toEqual([{ actor_kind: 'cli', target_id: failed }]);
  });
});
