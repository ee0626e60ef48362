/** `softswitch tenant announcements`: the tenant's prompt language and low-credit warning, audited, read by SIP. */
import { runCliIn, type CliRun } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../../src/sip/directory.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';

let db: TestDb;

function run(args: string[]): Promise<CliRun> {
  return runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: testPrefix(), LOG_LEVEL: 'warn' });
}

beforeAll(async () => {
  db = await createTestDb();
  const t = await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name) values ('acme', 'Acme Ltd') returning id`);
  await db.pool.query(`insert into numbers (e164, tenant_id, state) values ('+8657188880000', $1, 'approved')`, [t.rows[0]!.id]);
});
afterAll(async () => {
  await db.drop();
});

describe('tenant announcements', () => {
  it('defaults to Chinese with the warning off; sets only what is given; the SIP directory sees it; audited once per change', async () => {
    const show = await run(['tenant', 'announcements', 'acme', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual({ tenant: 'acme', before: { language: 'zh', lowCreditWarning: false }, after: { language: 'zh', lowCreditWarning: false } });

    const set = await run(['tenant', 'announcements', 'acme', '--language', 'en', '--low-credit-warning', 'on']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('language en, low-credit warning on (was zh, off)');
    const lang = await run(['tenant', 'announcements', 'acme', '--language', 'zh', '--json']);
    expect(JSON.parse(lang.stdout).after).toEqual({ language: 'zh', lowCreditWarning: true });

    const owner = await createDirectory(db.pool, { ttlMs: 0 }).numberOwner('+8657188880000');
    expect(owner?.tenant).toMatchObject({ announcementLanguage: 'zh', lowCreditWarning: true });
    const audit = await db.pool.query<{ action: string; before: unknown; after: unknown }>(`select action, before, after from audit_log order by id`);
    expect(audit.rows).toEqual([
      { action: 'tenant.announcements', before: { language: 'zh', lowCreditWarning: false }, after: { language: 'en', lowCreditWarning: true } },
      { action: 'tenant.announcements', before: { language: 'en', lowCreditWarning: true }, after: { language: 'zh', lowCreditWarning: true } },
    ]);
  });

  it('refuses an unknown language or tenant, changing nothing', async () => {
    const bad = await run(['tenant', 'announcements', 'acme', '--language', 'fr']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/zh|en/);
    const none = await run(['tenant', 'announcements', 'nobody', '--language', 'en']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('no tenant');
    const r = await db.pool.query<{ announcement_language: string }>(`select announcement_language from tenants where code = 'acme'`);
    expect(r.rows[0]!.announcement_language).toBe('zh');
  });
});
