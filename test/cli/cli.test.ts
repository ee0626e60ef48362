/**
 * The `softswitch` CLI against a fresh test database and a per-file Redis key prefix. `run()` calls runCli, the
 * CLI's entry function (what bin/softswitch.js runs), in this process with captured output: every command's logic,
 * output and exit status. `cli()` spawns the real process (bin/softswitch.js) for what only a process shows: the
 * exit status and streams an operator sees, once per status (each spawn compiles the sources under tsx, which is
 * what timed out on a loaded machine when every test spawned).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testKeys as keys, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { runCliIn, spawnCli, type CliRun } from '../helpers/cli.js';

let db: TestDb;
let dir: string;
const prefix = testPrefix();

type Run = CliRun;

const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => spawnCli(args, { ...baseEnv(), ...env });

// A spawned CLI compiles the TypeScript sources first (tsx): slow on a loaded 2-core CI box, so the one test that
// spawns gets a generous limit (a hang guard, not a timing assertion).
const SPAWN_TIMEOUT = 120_000;

const baseEnv = (): Record<string, string> => ({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' });

const run = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCliIn(args, { ...baseEnv(), ...env });

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from (${sql}) x`, params);
  return Number(r.rows[0]!.n);
}

beforeAll(async () => {
  db = await createTestDb();
  dir = mkdtempSync(join(tmpdir(), 'softswitch-cli-'));
  const seeded = await run(['demo', 'seed', '--json']);
  expect(seeded.code, seeded.stderr).toBe(0);
  expect(JSON.parse(seeded.stdout)).toMatchObject({ created: true, redis: { state: 'applied', credit: 'applied' } });
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

describe('demo seed', () => {
  it('seeds the contract sample once (PostgreSQL and Redis) and is idempotent', async () => {
    const again = await run(['demo', 'seed', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const out = JSON.parse(again.stdout) as { created: boolean; tenantId: string; redis: { state: string; credit: string } };
    expect(out.created).toBe(false);
    expect(out.redis).toEqual({ state: 'applied', credit: 'already-applied' });
    expect(await count(`select 1 from tenants where code = 'demo'`)).toBe(1);
    expect(await count(`select 1 from orders o join tenants t on t.id = o.tenant_id where t.code = 'demo'`)).toBe(1);
    expect(await count(`select 1 from numbers where e164 = '+8657188880000' and state = 'approved'`)).toBe(1);
    const order = (await db.pool.query<{ total_fen: bigint; package_amount_fen: bigint }>(`select total_fen, package_amount_fen from orders where order_no = 'DEMO-0001'`)).rows[0]!;
    expect(order).toEqual({ total_fen: 1_142_000n, package_amount_fen: 1_100_000n });
    const bal = await run(['balance', 'show', '--tenant', 'demo', '--json']);
    expect(JSON.parse(bal.stdout)).toMatchObject({ paidFen: '1100000', giftFen: '0', usableFen: '1100000' });
    const r = new Redis(TEST_REDIS_URL, { keyPrefix: prefix });
    try {
      expect(await r.hvals(keys.buckets(out.tenantId))).toEqual(['1100000']);
      expect(await r.hget(keys.tenant(out.tenantId), 'status')).toBe('active');
    } finally {
      r.disconnect();
    }
    expect(await count(`select 1 from rate_deck_entries e join rate_plans p on p.id = e.rate_plan_id where p.name = 'china-std'`)).toBeGreaterThan(5);
    expect(await count(`select 1 from ingress_trunks where name = 'ccc-local' and address = '127.0.0.1'`)).toBe(1);
    expect(await count(`select 1 from carrier_gateways where name = 'carrier-local' and port = 5070 and transport = 'udp'`)).toBe(1);
  });
});

describe('rates import', () => {
  it('rejects a CSV with bad rows, reports each with its line number, and imports nothing', async () => {
    const file = join(dir, 'bad.csv');
    writeFileSync(file, [
      'prefix,destination,price_per_minute,initial_increment,subsequent_increment',
      '8613,mobile,0.080000,1,1',
      '86ab,bad prefix,0.08,1,1',
      '8614,negative,-0.01,1,1',
      '',
      '8615,too precise,0.1234567,0,1',
      '8613,duplicate,0.09,1,1',
      '8616,short row',
      '8617,"quoted, ok",0.08,6,6',
    ].join('\n') + '\n');
    const before = await count('select 1 from rate_deck_entries');
    const r = await run(['rates', 'import', file, '--plan', 'bad-plan', '--create-plan']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/nothing imported: 5 problem\(s\) in 7 data row\(s\)/);
    for (const line of [3, 4, 6, 7, 8]) expect(r.stderr).toMatch(new RegExp(`line ${line}: `));
    expect(r.stderr).not.toMatch(/line (2|9): /);
    expect(r.stderr).toMatch(/line 7: prefix 8613 .* repeats line 2/);
    expect(await count('select 1 from rate_deck_entries')).toBe(before);
    expect(await count(`select 1 from rate_plans where name = 'bad-plan'`)).toBe(0);

    const j = await run(['rates', 'import', file, '--plan', 'bad-plan', '--create-plan', '--json']);
    expect(j.code).toBe(2);
    const err = JSON.parse(j.stderr) as { errors: { line: number; message: string }[]; imported: number };
    expect(err.imported).toBe(0);
    expect(err.errors.map((e) => e.line)).toEqual([3, 4, 6, 7, 8]);
  });

  it('imports a large valid file with progress on stderr, and export → import round-trips', async () => {
    const file = join(dir, 'big.csv');
    const rows = ['prefix,destination,price_per_minute,initial_increment,subsequent_increment,connect_fee,minimum_seconds,effective_from'];
    for (let i = 0; i < 12_000; i++) rows.push(`86${100000 + i},"Dest, ${i}",0.${String(i % 1000).padStart(3, '0')}100,1,${i % 2 ? 6 : 1},0.01,${i % 3},2026-01-01T00:00:00+08:00`);
    writeFileSync(file, rows.join('\n') + '\n');
    const r = await run(['rates', 'import', file, '--plan', 'big', '--create-plan', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, imported: 12_000, created: true });
    expect(r.stderr).toMatch(/validated 10000 rows/);
    expect(r.stderr).toMatch(/imported 12000\/12000 rows/);
    expect(await count(`select 1 from rate_deck_entries e join rate_plans p on p.id = e.rate_plan_id where p.name = 'big'`)).toBe(12_000);
    const sample = (await db.pool.query<{ price_per_minute: string; effective_from: Date; destination: string }>(
      `select price_per_minute, effective_from, destination from rate_deck_entries where prefix = '86100007'`)).rows[0]!;
    expect(sample).toEqual({ price_per_minute: '0.007100', effective_from: new Date('2025-12-31T16:00:00Z'), destination: 'Dest, 7' });

    const exported = join(dir, 'export.csv');
    const e = await run(['rates', 'export', '--plan', 'big', '--out', exported, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ rows: 12_000 });
    const again = await run(['rates', 'import', exported, '--plan', 'big2', '--create-plan', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const diff = await count(`
      (select prefix, destination, price_per_minute, initial_increment, subsequent_increment, connect_fee, minimum_seconds, effective_from, effective_to
         from rate_deck_entries e join rate_plans p on p.id = e.rate_plan_id where p.name = 'big'
       except
       select prefix, destination, price_per_minute, initial_increment, subsequent_increment, connect_fee, minimum_seconds, effective_from, effective_to
         from rate_deck_entries e join rate_plans p on p.id = e.rate_plan_id where p.name = 'big2')`);
    expect(diff).toBe(0);
    const stdoutExport = await run(['rates', 'export', '--plan', 'china-std']);
    expect(stdoutExport.stdout.split('\n')[0]).toBe('prefix,destination,price_per_minute,initial_increment,subsequent_increment,connect_fee,minimum_seconds,effective_from,effective_to');
  });

  it('a missing file or plan is a clear error with exit 2', async () => {
    const missing = await run(['rates', 'import', join(dir, 'nope.csv'), '--plan', 'x']);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/cannot read .*nope\.csv: no such file/)]);
    const good = join(dir, 'one.csv');
    writeFileSync(good, 'prefix,price_per_minute\n8613,0.08\n');
    const noPlan = await run(['rates', 'import', good, '--plan', 'no-such-plan']);
    expect([noPlan.code, noPlan.stderr]).toEqual([2, expect.stringMatching(/no rate plan "no-such-plan" \(use --create-plan/)]);
  });
});

describe('tenant lifecycle through the CLI', () => {
  it('create, order (supersede), numbers, top-up idempotency, suspend/resume, --json everywhere', async () => {
    const created = await run(['tenant', 'create', '--code', 'acme', '--legal-name', 'Acme Trading Co., Ltd.', '--rate-plan', 'china-std', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ tenant: { code: 'acme', status: 'active' }, redis: 'applied' });
    const o1 = await run(['order', 'create', '--tenant', 'acme', '--package-amount', '1000.00', '--validity-months', '3', '--numbers', '+8657188881234', '--monthly-rent', '420.00', '--order-no', 'ACME-1', '--json']);
    expect(o1.code, o1.stderr).toBe(0);
    // --monthly-rent (the older option) = --rent 420.00 --rent-period month: all 3 months are in the contract total
    expect(JSON.parse(o1.stdout)).toMatchObject({ order: { totalFen: '226000', status: 'active', rent: { amountFen: '42000', period: 'month' } }, credit: { amountFen: '100000' } });
    const o2 = await run(['order', 'create', '--tenant', 'acme', '--package-amount', '2000.00', '--validity-months', '12', '--order-no', 'ACME-2', '--json']);
    expect(o2.code, o2.stderr).toBe(0);
    const list = JSON.parse((await run(['order', 'list', '--tenant', 'acme', '--json'])).stdout) as { orderNo: string; status: string }[];
    expect(list.map((o) => [o.orderNo, o.status])).toEqual([['ACME-1', 'superseded'], ['ACME-2', 'active']]);

    const approve = await run(['number', 'approve', '+8657188881234', '--json']);
    expect(JSON.parse(approve.stdout)).toMatchObject({ state: 'approved' });
    const badSuspend = await run(['number', 'suspend', '+8657188881234']);
    expect([badSuspend.code, badSuspend.stderr]).toEqual([2, expect.stringMatching(/missing required option --reason/)]);

    const [t1, t2] = await Promise.all([
      run(['top-up', '--tenant', 'acme', '--amount', '50.00', '--idempotency-key', 'PAY-1', '--json']),
      run(['top-up', '--tenant', 'acme', '--amount', '50.00', '--idempotency-key', 'PAY-1', '--json']),
    ]);
    expect([t1.code, t2.code]).toEqual([0, 0]);
    const dups = [JSON.parse(t1.stdout), JSON.parse(t2.stdout)].map((x: { credit: { duplicate: boolean } }) => x.credit.duplicate).sort();
    expect(dups).toEqual([false, true]);
    const conflict = await run(['top-up', '--tenant', 'acme', '--amount', '51.00', '--idempotency-key', 'PAY-1']);
    expect([conflict.code, conflict.stderr]).toEqual([2, expect.stringMatching(/already used/)]);
    const bal = JSON.parse((await run(['balance', 'show', '--tenant', 'acme', '--json'])).stdout) as { paidFen: string };
    expect(bal.paidFen).toBe('305000'); // 1000 + 2000 + 50 CNY

    const s = await run(['tenant', 'suspend', 'acme', '--reason', 'compliance', '--json']);
    expect(JSON.parse(s.stdout)).toMatchObject({ tenant: { status: 'suspended', statusReason: 'compliance' }, redis: 'applied' });
    const show = JSON.parse((await run(['tenant', 'show', 'acme', '--json'])).stdout) as { tenant: { status: string }; activeOrder: { orderNo: string } };
    expect([show.tenant.status, show.activeOrder.orderNo]).toEqual(['suspended', 'ACME-2']);
    expect(JSON.parse((await run(['tenant', 'resume', 'acme', '--json'])).stdout)).toMatchObject({ tenant: { status: 'active' } });

    const unpaid = await run(['order', 'create', '--tenant', 'acme', '--package-amount', '300.00', '--validity-months', '12', '--order-no', 'ACME-3', '--unpaid', '--json']);
    expect(JSON.parse(unpaid.stdout)).toMatchObject({ order: { paidAt: null }, credit: null });
    const pay = await run(['order', 'pay', 'ACME-3', '--json']);
    expect(pay.code, pay.stderr).toBe(0);
    expect(JSON.parse(pay.stdout)).toMatchObject({ duplicate: false, credit: { amountFen: '30000' }, redis: { credit: 'applied' } });
    expect(JSON.parse((await run(['order', 'pay', 'ACME-3', '--json'])).stdout)).toMatchObject({ duplicate: true });
    expect(JSON.parse((await run(['balance', 'show', '--tenant', 'acme', '--json'])).stdout)).toMatchObject({ paidFen: '335000' });
  });

  it('rates list and tenant rate-plan: the tenant moves to another plan in PostgreSQL and Redis; unknown plan exit 2', async () => {
    const created = await run(['tenant', 'create', '--code', 'replan', '--legal-name', 'Replan Co., Ltd.', '--rate-plan', 'china-std', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const tenantId = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    const csv = join(dir, 'plan-2027.csv');
    writeFileSync(csv, 'prefix,price_per_minute\n86,0.09\n');
    expect((await run(['rates', 'import', csv, '--plan', 'china-2027', '--create-plan'])).code).toBe(0);
    const plans = JSON.parse((await run(['rates', 'list', '--json'])).stdout) as { id: string; name: string; entries: number }[];
    const next = plans.find((p) => p.name === 'china-2027')!;
    expect(next.entries).toBe(1);
    expect((await run(['rates', 'list'])).stdout).toMatch(/china-2027\s+1\s+0/);

    const moved = await run(['tenant', 'rate-plan', 'replan', 'china-2027']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain('tenant replan: rate plan china-std → china-2027');
    expect(await count('select 1 from tenants where id = $1 and rate_plan_id = $2', [tenantId, next.id])).toBe(1);
    const r = new Redis(TEST_REDIS_URL, { keyPrefix: prefix });
    try {
      expect(await r.hget(keys.tenant(tenantId), 'plan')).toBe(next.id);
    } finally {
      r.disconnect();
    }
    expect((await run(['tenant', 'show', 'replan'])).stdout).toContain('rate plan china-2027');
    const again = await run(['tenant', 'rate-plan', 'replan', 'china-2027', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ before: 'china-2027', ratePlan: 'china-2027', redis: 'applied' });
    expect(await count(`select 1 from audit_log where action = 'tenant.rate-plan' and target_id = $1`, [tenantId])).toBe(1);
    const unknown = await run(['tenant', 'rate-plan', 'replan', 'nosuch']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/no rate plan "nosuch"/)]);
    const missing = await run(['tenant', 'rate-plan', 'replan']);
    expect(missing.code).toBe(2);
  });

  it('with Redis unreachable a top-up still commits PostgreSQL and says reconcile will repair Redis', async () => {
    const port = await freePort();
    const r = await run(['top-up', '--tenant', 'demo', '--amount', '1.00', '--idempotency-key', 'NO-REDIS-1'], { REDIS_URL: `redis://127.0.0.1:${port}/0` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/credited 1\.00 CNY/);
    expect(r.stdout).toMatch(/WARNING Redis not updated .*softswitch reconcile/);
    expect(await count(`select 1 from ledger_transfers where idempotency_key = 'topup:NO-REDIS-1'`)).toBe(1);
  });
});

describe('billing period-end through the CLI', () => {
  it('terminates, reclaims numbers and has Redis expire the remaining balance into the outbox (one clearing path)', async () => {
    expect((await run(['tenant', 'create', '--code', 'old', '--legal-name', 'Old Co.'])).code).toBe(0);
    const o = await run(['order', 'create', '--tenant', 'old', '--package-amount', '100.00', '--validity-months', '1', '--numbers', '+8657188889999',
      '--order-no', 'OLD-1', '--activated-at', '2026-01-01T00:00:00+08:00', '--json']);
    expect(o.code, o.stderr).toBe(0);
    const bucketId = (JSON.parse(o.stdout) as { credit: { bucketId: string } }).credit.bucketId;
    const notYet = await run(['billing', 'period-end', '--tenant', 'old', '--at', '2026-01-15', '--json']);
    expect(JSON.parse(notYet.stdout)).toEqual([]);
    const r = await run(['billing', 'period-end', '--tenant', 'old', '--at', '2026-02-01T00:00:00+08:00', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject([{
      tenant: 'old', terminated: true, numbersReclaimed: 1,
      remaining: [{ bucketId, balanceFen: '10000', expiresByPeriodEnd: true }], redis: { state: 'applied', expiry: 'applied' },
    }]);
    const redis = new Redis(TEST_REDIS_URL, { keyPrefix: prefix });
    try {
      const tenantId = (JSON.parse(o.stdout) as { order: { tenantId: string } }).order.tenantId;
      const events = (await redis.xrange(keys.outbox(keys.shardOfTenant(tenantId)), '-', '+')).map(([, fields]) => JSON.parse(fields[1]!) as { type: string; bucketId?: string; amountFen?: string });
      expect(events.filter((e) => e.type === 'bucket.expired' && e.bucketId === bucketId)).toEqual([
        expect.objectContaining({ amountFen: '10000' }),
      ]);
      expect(await redis.hget(keys.tenant(tenantId), 'status')).toBe('terminated');
    } finally {
      redis.disconnect();
    }
  });
});

describe('trunks and gateways', () => {
  it('add, list, disable; bad addresses and duplicates refused with exit 2', async () => {
    expect((await run(['trunk', 'add', '--name', 'ccc-b', '--address', '10.0.0.300'])).stderr).toMatch(/invalid input syntax for type inet/);
    expect((await run(['trunk', 'add', '--name', 'ccc-b', '--address', '10.0.0.3', '--failure-policy', 'continue'])).code).toBe(0);
    const dup = await run(['trunk', 'add', '--name', 'ccc-b', '--address', '10.0.0.4']);
    expect([dup.code, dup.stderr]).toEqual([2, expect.stringMatching(/already exists/)]);
    const trunks = JSON.parse((await run(['trunk', 'list', '--json'])).stdout) as { name: string; address: string; failurePolicy: string }[];
    expect(trunks.find((t) => t.name === 'ccc-b')).toEqual({ name: 'ccc-b', address: '10.0.0.3', failurePolicy: 'continue', enabled: true });
    // a trunk is an address, any source port (migration 021 dropped the never-enforced port)
    const withPort = await run(['trunk', 'add', '--name', 'ccc-p', '--address', '10.0.0.5', '--port', '5060']);
    expect([withPort.code, withPort.stderr]).toEqual([2, expect.stringMatching(/port/)]);
    expect(await count(`select 1 from information_schema.columns where table_name = 'ingress_trunks' and column_name = 'port'`)).toBe(0);
    expect((await run(['gateway', 'add', '--name', 'gw-b', '--host', '10.1.1.1', '--priority', '5', '--number-format', 'e164'])).code).toBe(0);
    expect((await run(['gateway', 'disable', 'gw-b'])).code).toBe(0);
    const gws = JSON.parse((await run(['gateway', 'list', '--json'])).stdout) as { name: string; enabled: boolean }[];
    expect(gws.map((g) => [g.name, g.enabled])).toEqual([['gw-b', false], ['carrier-local', true]]);
    const bad = await run(['gateway', 'add', '--name', 'gw-c', '--host', 'x y']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/not a host name or IP/)]);
  });
});

describe('cdr list / export', () => {
  it('filters by tenant and time and exports CSV and JSON lines', async () => {
    const demo = (await db.pool.query<{ id: bigint }>(`select id from tenants where code = 'demo'`)).rows[0]!.id;
    const created = await run(['tenant', 'create', '--code', 'cdr-other', '--legal-name', 'Other Ltd', '--json']); // its own, not another test's
    expect(created.code, created.stderr).toBe(0);
    const other = (await db.pool.query<{ id: bigint }>(`select id from tenants where code = 'cdr-other'`)).rows[0]!.id;
    const ins = (callId: string, tenant: bigint, at: string, charge: number) =>
      db.pool.query(`insert into cdrs (call_id, invite_at, tenant_id, a_call_id, caller, callee, end_at, billable_seconds, charge_fen, sip_status, result)
                     values ($1, $2, $3, $1, '+8657188880000', '8613800138000', $2::timestamptz + interval '1 minute', 60, $4, 200, 'answered')`,
      [callId, at, tenant.toString(), charge]);
    await ins('c-1', demo, new Date(Date.now() - 3600_000).toISOString(), 8);
    await ins('c-2', demo, new Date(Date.now() - 1800_000).toISOString(), 6);
    await ins('c-3', other, new Date(Date.now() - 1800_000).toISOString(), 10);
    const from = new Date(Date.now() - 2 * 3600_000).toISOString();
    const to = new Date(Date.now() - 2700_000).toISOString();

    const list = JSON.parse((await run(['cdr', 'list', '--tenant', 'demo', '--json'])).stdout) as { call_id: string; charge_fen: string }[];
    expect(list.map((c) => c.call_id)).toEqual(['c-2', 'c-1']);
    expect(list[0]!.charge_fen).toBe('6');

    const csv = await run(['cdr', 'export', '--format', 'csv', '--tenant', 'demo']);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]!.startsWith('call_id,invite_at,tenant_id,caller,callee')).toBe(true);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['c-1', 'c-2']);

    const json = await run(['cdr', 'export', '--format', 'json', '--from', from, '--to', to]);
    expect(json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { call_id: string }).call_id)).toEqual(['c-1']);

    const file = join(dir, 'cdrs.json');
    const toFile = await run(['cdr', 'export', '--format', 'json', '--out', file, '--json']);
    expect(JSON.parse(toFile.stdout)).toMatchObject({ rows: 3 });
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3);

    const bad = await run(['cdr', 'export', '--from', 'yesterday']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/--from must be an ISO date/)]);
    const badFormat = await run(['cdr', 'export', '--format', 'xml']);
    expect([badFormat.code, badFormat.stderr]).toEqual([2, expect.stringMatching(/--format must be one of csv, json/)]);
  });
});

describe('bad input', () => {
  it('unknown commands/options, missing/invalid values and unknown tenants exit 2 with a message on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['tenant', 'create', '--code', 'x1'], /missing required option --legal-name/],
      [['tenant', 'create', '--code', 'Bad Code', '--legal-name', 'X'], /tenant code "Bad Code"/],
      [['tenant', 'list', '--colour'], /unknown option --colour/],
      [['top-up', '--tenant', 'demo', '--amount', '1.005', '--idempotency-key', 'k'], /--amount: not a CNY amount with at most 2 decimals/],
      [['top-up', '--tenant', 'ghost', '--amount', '1.00', '--idempotency-key', 'k'], /no tenant "ghost"/],
      [['order', 'create', '--tenant', 'demo', '--package-amount', '10', '--validity-months', '0'], /--validity-months must be from 1 to 120/],
      [['number', 'add', '12345', '--tenant', 'demo'], /not an E\.164 number/],
      [['balance', 'show', '--tenant', 'demo', 'extra'], /unexpected argument "extra"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => run(args)));
    runs.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stdout).toBe('');
    });
    const j = await run(['top-up', '--tenant', 'ghost', '--amount', '1.00', '--idempotency-key', 'k', '--json']);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: 'no tenant "ghost"', code: 'NotFoundError' });
  });

  it('a database that cannot be reached is exit 1, not a bad-input exit', async () => {
    const port = await freePort();
    const r = await run(['tenant', 'list'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED|connect/);
  });

  it('bad configuration names the key and exits 2', async () => {
    const r = await run(['tenant', 'list'], { DATABASE_URL: 'mysql://nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/postgres\.url/);
  });

  it('--help works on commands and groups without touching the database', async () => {
    const [h, g, top] = await Promise.all([
      run(['rates', 'import', '--help'], { DATABASE_URL: 'mysql://not-even-valid' }),
      run(['tenant', '--help']),
      run(['--help']),
    ]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/softswitch rates import <csv> \[options\]/);
    expect(h.stdout).toMatch(/--plan VALUE/);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/create \| list \| show/);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/demo seed/);
  });
});

describe('as a separate process (bin/softswitch.js)', () => {
  it('exits 0 with help on stdout, 2 with the message on stderr (stdout empty), 1 when the database cannot be reached', async () => {
    const port = await freePort();
    const [help, bad, down] = await Promise.all([
      cli(['rates', 'import', '--help'], { DATABASE_URL: 'mysql://not-even-valid' }),
      cli(['top-up', '--tenant', 'demo', '--amount', '1.005', '--idempotency-key', 'k']),
      cli(['tenant', 'list'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none` }),
    ]);
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/softswitch rates import <csv> \[options\]/);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toMatch(/^softswitch: --amount: not a CNY amount with at most 2 decimals/);
    expect([down.code, down.stdout]).toEqual([1, '']);
    expect(down.stderr).toMatch(/^softswitch: .*(ECONNREFUSED|connect)/);
  }, SPAWN_TIMEOUT);
});
