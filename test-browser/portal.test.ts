/**
 * The web portal in a real headless browser (Debian chromium driven by playwright-core) against the real product as
 * `npm start` runs it (node dist/src/main.js, built by `npm run test:browser`) on a fresh database, with a real sipp
 * call through its SIP edge: a tenant logs in, sees its balance change after the call, finds the call's CDR and
 * downloads the CSV; an operator tops up and the tenant's page shows it; a tenant token cannot open another tenant's
 * pages; phone width and Chinese labels. Screenshots go to test-results/browser/ (git-ignored).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { projectPath } from '../src/util/paths.js';
import { createTestDb, type TestDb } from '../test/helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../test/helpers/redis.js';
import { freePort } from '../test/helpers/ports.js';
import { killSipps, runSipp } from '../test/e2e/harness.js';
import { waitForListener } from '../test/edge/support.js';

const BOOT = 'browser-test-operator-token-0123456789';
const SHOTS = projectPath('test-results', 'browser');
let db: TestDb;
const prefix = testPrefix();
let product: ChildProcess | null = null;
let productLog = '';
let base = '';
let sipPort = 0;
let carrierPort = 0;
let browser: Browser;
let tenantToken = '';
let chargeFen = 0n;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- product log ---\n${productLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function api(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(base + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

/** "10,999.99" → 1099999n */
const fenOf = (text: string): bigint => BigInt(text.replace(/[,.]/g, ''));

async function login(ctx: BrowserContext, token: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(base + '/portal/');
  await page.fill('#token', token);
  await page.click('#login');
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  db = await createTestDb({ migrate: false }); // the product migrates at start
  const httpPort = await freePort();
  sipPort = await freePort();
  carrierPort = await freePort();
  product = spawn(process.execPath, [projectPath('dist', 'src', 'main.js')], {
    env: {
      ...process.env, DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, HTTP_PORT: String(httpPort),
      SIP_PORT: String(sipPort), DRACHTIO_PORT: String(await freePort()), DRACHTIO_SECRET: 'browser-test', API_OPERATOR_TOKEN: BOOT,
      SIP_OPTIONS_PING_SECONDS: '0', DRAIN_SECONDS: '1', LOG_LEVEL: 'warn', DEMO_AUTO_SEED: 'true', SCHEDULER_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  product.stdout!.on('data', (d: Buffer) => (productLog += d.toString()));
  product.stderr!.on('data', (d: Buffer) => (productLog += d.toString()));
  base = `http://127.0.0.1:${httpPort}`;
  await until('the product to be ready', async () => (await fetch(base + '/readyz')).status === 200, 90_000);
  // the demo seed points the carrier gateway at 127.0.0.1:5070; tests never use fixed ports (no call has read it yet)
  await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
  tenantToken = (await api('POST', '/v1/api-tokens', BOOT, { role: 'tenant', tenant: 'demo', label: 'browser test' })).token;
  await api('POST', '/v1/tenants', BOOT, { code: 'other', legalName: 'Other Secret Co., Ltd.' });
  await api('POST', '/v1/tenants/demo/numbers', BOOT, {
    e164: '+8657188889999', documents: [{ docType: 'business_licence', docRef: 'DMS-2026-0042', fileSha256: 'a'.repeat(64) }],
  });
  const bin = execFileSync('bash', [projectPath('scripts', 'chromium.sh')], { encoding: 'utf8' }).trim().split('\n').pop()!;
  browser = await chromium.launch({
    executablePath: bin,
    // as root Chromium needs --no-sandbox; on this closed network nothing may phone home
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}, 180_000);

afterAll(async () => {
  killSipps();
  await browser?.close();
  if (product && product.exitCode === null) {
    const exited = new Promise((r) => product!.once('exit', r));
    product.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (product.exitCode === null) product.kill('SIGKILL');
  }
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('tenant pages', () => {
  it('a tenant logs in, sees the balance change after a sipp call, finds that call\'s CDR and downloads the CSV', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'en-GB' });
    const page = await login(ctx, tenantToken);
    await page.waitForSelector('#usable');
    const before = fenOf(await page.textContent('#usable') ?? '');
    expect(before).toBe(1_100_000n); // the demo order's 11,000.00 CNY
    expect(await page.textContent('#tenant-name')).toContain('Demo Enterprise');

    // the call: the carrier answers, the agent +8657188880000 talks 3 s to 13800138000
    const uas = runSipp('call-uas-answer.xml', ['-p', String(carrierPort), '-m', '1']);
    await waitForListener(carrierPort, 'udp');
    const uac = await runSipp('call-uac-answer.xml', [`127.0.0.1:${sipPort}`, '-p', String(await freePort()), '-m', '1', '-s', '13800138000', '-key', 'caller', '+8657188880000', '-d', '3000']);
    await uas;
    expect(uac.successful, productLog.slice(-2000)).toBe(1);
    const cdr = await until('the CDR in PostgreSQL', async () => (await api('GET', '/v1/tenants/me/cdrs?callee=138', tenantToken)).cdrs[0]);
    chargeFen = BigInt(cdr.chargeFen);
    expect(chargeFen).toBeGreaterThan(0n);

    await page.reload();
    await page.waitForSelector('#usable');
    const after = fenOf(await page.textContent('#usable') ?? '');
    expect(after).toBe(before - chargeFen);

    await page.fill('#cdr-callee', '138');
    await page.click('#cdr-search');
    await page.waitForSelector(`tr[data-call-id="${cdr.callId}"]`);
    expect(await page.textContent(`tr[data-call-id="${cdr.callId}"]`)).toContain('13800138000');
    await shot(page, 'tenant-laptop-en');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#cdr-export')]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(download.suggestedFilename()).toBe('cdrs-demo.csv');
    expect(csv.split('\n')[0]).toMatch(/^call_id,invite_at,caller,callee/);
    expect(csv).toContain(cdr.callId);
    expect(csv).not.toContain('carrier-local'); // no carrier-side columns for a tenant
    await ctx.close();
  });

  it('a tenant token cannot open another tenant\'s pages', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await login(ctx, tenantToken);
    await page.waitForSelector('#usable');
    const other = (await api('GET', '/v1/tenants/other', BOOT)).id;
    for (const ref of ['other', String(other)]) {
      await page.goto(`${base}/portal/#/tenant/${ref}`);
      await page.waitForSelector('#error');
      expect(await page.textContent('#error')).toContain('Not found');
      expect(await page.content()).not.toContain('Other Secret');
      expect(await page.$('#usable')).toBeNull();
    }
    await shot(page, 'tenant-other-refused');
    await ctx.close();
  });
});

describe('operator pages', () => {
  it('an operator tops up and the tenant\'s page shows it', async () => {
    const tctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tenantPage = await login(tctx, tenantToken);
    await tenantPage.waitForSelector('#usable');
    const before = fenOf(await tenantPage.textContent('#usable') ?? '');

    const octx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const ops = await login(octx, BOOT);
    await ops.waitForSelector('tr[data-tenant="demo"]');
    await ops.fill('tr[data-tenant="demo"] .topup-amount', '100.00');
    await ops.click('tr[data-tenant="demo"] [data-action="top-up"]');
    await ops.waitForSelector('#flash .banner.ok');
    expect(await ops.textContent('#flash')).toContain('100.00');
    await ops.waitForSelector('tr[data-tenant="other"]');
    await shot(ops, 'operator-laptop-en');
    await ops.goto(base + '/portal/#/ops/review');
    await ops.waitForSelector('tr[data-number="+8657188889999"]');
    await shot(ops, 'operator-review-laptop-en');

    await tenantPage.reload();
    await tenantPage.waitForSelector('#usable');
    expect(fenOf(await tenantPage.textContent('#usable') ?? '')).toBe(before + 10_000n);
    const audit = await api('GET', '/v1/audit?tenant=demo&action=credit.top-up', BOOT);
    expect(audit.entries[0]).toMatchObject({ actorKind: 'operator', actorId: 'bootstrap-token' });
    await tctx.close();
    await octx.close();
  });
});

describe('phone width, Chinese labels', () => {
  it('tenant and operator pages on a 390 px phone in Chinese', async () => {
    const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    const tctx = await browser.newContext(phone);
    const t = await login(tctx, tenantToken);
    await t.waitForSelector('#usable');
    await t.click('#lang');
    await t.waitForFunction("document.body.textContent.includes('可用余额')");
    expect(await t.textContent('#cdrs h2')).toBe('通话记录');
    // nothing wider than the screen but the scrollable tables
    expect(await t.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(t, 'tenant-phone-zh');

    const octx = await browser.newContext(phone);
    const o = await login(octx, BOOT);
    await o.waitForSelector('tr[data-tenant="demo"]');
    await o.click('#lang');
    await o.waitForFunction("document.body.textContent.includes('充值')");
    expect(await o.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(o, 'operator-phone-zh');
    await tctx.close();
    await octx.close();
  });
});
