/**
 * Tenant/operator HTTP API on a real, migrated PostgreSQL test database with real ledger postings and CDR rows:
 * tenant isolation (contract art. 6), balances, monthly bills in Asia/Shanghai, keyset-paged CDRs, bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { issueToken, revokeToken } from '../../src/services/tokens.js';
import { bucketAccount, postTransfers, systemAccount } from '../../src/ledger/ledger.js';
import { Readiness } from '../../src/observability/readiness.js';
import { createLogger } from '../../src/util/logger.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { SYSTEM, testServices } from '../helpers/services.js';

const OPERATOR = 'op-token-for-tests-0123456789abcdef';
let db: TestDb;
let http: HttpServer;
let base: string;
let tokA: string;
let tokB: string;
let tokRevoked: string;
let idA: bigint;
let idB: bigint;
const CDRS_A = 250; // more than two pages of 100
const CDRS_B = 40;
// CDR invite times: every 10 minutes back from this instant
const T0 = Date.parse('2026-11-20T12:00:00Z');

async function get(path: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

async function seedTenant(code: string): Promise<bigint> {
  const r = await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name) values ($1, $2) returning id`, [code, code.toUpperCase() + ' Ltd']);
  return r.rows[0]!.id;
}

async function bucket(tenant: bigint, kind: 'paid' | 'gift', validFrom: string, expiresAt: string | null): Promise<bigint> {
  const r = await db.pool.query<{ id: bigint }>(`insert into balance_buckets (tenant_id, kind, valid_from, expires_at) values ($1, $2, $3, $4) returning id`, [
    tenant, kind, validFrom, expiresAt,
  ]);
  return r.rows[0]!.id;
}

/** Ledger rows are dated now() by postTransfers; history in past months is made by back-dating the posted rows
 * (created_at and booked_at, the date statements and bills go by)
 * (triggers off for this one session: the immutability trigger is not what these tests are about). */
async function backdate(idempotencyKey: string, at: string): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query(`set session_replication_role = replica`);
    await c.query(`update ledger_transfers set created_at = $2, booked_at = $2 where idempotency_key = $1`, [idempotencyKey, at]);
    await c.query(`set session_replication_role = origin`);
  } finally {
    c.release();
  }
}

async function insertCdrs(tenant: bigint, n: number, tag: string): Promise<void> {
  await db.pool.query(
    `insert into cdrs (call_id, invite_at, tenant_id, a_call_id, caller, callee, end_at, billable_seconds, duration_ms,
                       charge_fen, sip_status, result, gateway, instance_id, price_per_minute, rate_prefix)
     select $2 || '-' || i, to_timestamp($3::bigint / 1000.0) - (i * interval '10 minutes'), $1, 'a-' || $2 || '-' || i,
            '+8657112345678', '13800000000', to_timestamp($3::bigint / 1000.0) - (i * interval '10 minutes') + interval '1 minute',
            case when i % 3 = 0 then 0 else 60 end, 60000, case when i % 3 = 0 then 0 else 13 end,
            case when i % 3 = 0 then 486 else 200 end, case when i % 3 = 0 then 'failed' else 'answered' end,
            'gw-1', 'inst-1', 0.130000, '138'
       from generate_series(0, $4::int - 1) as i`,
    [tenant, tag, T0, n],
  );
}

beforeAll(async () => {
  db = await createTestDb();
  idA = await seedTenant('acme');
  idB = await seedTenant('globex');
  const paidA = await bucket(idA, 'paid', '2026-01-01T00:00:00Z', '2027-12-01T00:00:00Z');
  const giftA = await bucket(idA, 'gift', '2026-01-01T00:00:00Z', '2027-12-01T00:00:00Z');
  const expiredA = await bucket(idA, 'gift', '2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z');
  const paidB = await bucket(idB, 'paid', '2026-01-01T00:00:00Z', null);
  const cash = await systemAccount(db.pool, 'cash');
  const giftFunding = await systemAccount(db.pool, 'gift_funding');
  const revenue = await systemAccount(db.pool, 'revenue:calls');
  const acct = async (b: bigint) => bucketAccount(db.pool, b);
  await postTransfers(db.pool, [
    { idempotencyKey: 'topup-a-oct', debitAccountId: cash, creditAccountId: await acct(paidA), amountFen: 1_000_000n, kind: 'top_up', tenantId: idA },
    { idempotencyKey: 'gift-a-oct', debitAccountId: giftFunding, creditAccountId: await acct(giftA), amountFen: 50_000n, kind: 'gift', tenantId: idA },
    { idempotencyKey: 'call-a-oct', debitAccountId: await acct(paidA), creditAccountId: revenue, amountFen: 1_300n, kind: 'call_charge', tenantId: idA, callId: 'c1' },
    // 2026-11-01 00:30 in Shanghai, i.e. still October 31 in UTC: belongs to the November bill.
    { idempotencyKey: 'topup-a-boundary', debitAccountId: cash, creditAccountId: await acct(paidA), amountFen: 20_000n, kind: 'top_up', tenantId: idA },
    { idempotencyKey: 'call-a-nov-1', debitAccountId: await acct(paidA), creditAccountId: revenue, amountFen: 2_600n, kind: 'call_charge', tenantId: idA, callId: 'c2' },
    { idempotencyKey: 'call-a-nov-2', debitAccountId: await acct(giftA), creditAccountId: revenue, amountFen: 130n, kind: 'call_charge', tenantId: idA, callId: 'c3' },
    { idempotencyKey: 'gift-a-old', debitAccountId: giftFunding, creditAccountId: await acct(expiredA), amountFen: 999n, kind: 'gift', tenantId: idA },
    { idempotencyKey: 'topup-b', debitAccountId: cash, creditAccountId: await acct(paidB), amountFen: 777n, kind: 'top_up', tenantId: idB },
  ]);
  await backdate('topup-a-oct', '2026-10-05T02:00:00Z');
  await backdate('gift-a-oct', '2026-10-05T02:00:00Z');
  await backdate('call-a-oct', '2026-10-20T02:00:00Z');
  await backdate('topup-a-boundary', '2026-10-31T16:30:00Z');
  await backdate('call-a-nov-1', '2026-11-10T02:00:00Z');
  await backdate('call-a-nov-2', '2026-11-30T15:59:59Z'); // 23:59:59 Nov 30 Shanghai
  await backdate('gift-a-old', '2025-01-02T00:00:00Z');
  await backdate('topup-b', '2026-11-02T00:00:00Z');
  await insertCdrs(idA, CDRS_A, 'a');
  await insertCdrs(idB, CDRS_B, 'b');
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, 'api.operatorToken': OPERATOR, 'service.timezone': 'Asia/Shanghai' });
  const services = testServices(db.pool, { config });
  tokA = (await issueToken(services, SYSTEM, { role: 'tenant', tenant: idA, label: 'acme portal' })).token;
  tokB = (await issueToken(services, SYSTEM, { role: 'tenant', tenant: idB })).token;
  const revoked = await issueToken(services, SYSTEM, { role: 'tenant', tenant: idA, label: 'old' });
  tokRevoked = revoked.token;
  await revokeToken(services, SYSTEM, revoked.info.id);

  http = createHttpServer({ config, logger: createLogger('silent'), readiness: new Readiness(), services });
  const a = await http.listen();
  base = `http://127.0.0.1:${a.port}`;
});

afterAll(async () => {
  await http?.close();
  await db?.drop();
});

describe('authentication', () => {
  it('refuses requests without a valid bearer token with 401 and a JSON error', async () => {
    for (const token of [undefined, 'sst_' + 'x'.repeat(43), tokRevoked, 'not a token', OPERATOR + 'x']) {
      const r = await get('/v1/tenants', token);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    const res = await fetch(base + '/v1/me', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(res.status).toBe(401);
  });

  it('tells a tenant token and the operator token apart', async () => {
    expect((await get('/v1/me', tokA)).body).toMatchObject({ role: 'tenant', tenant: { id: idA.toString(), code: 'acme' } });
    expect((await get('/v1/me', OPERATOR)).body).toEqual({ role: 'operator-admin', tokenId: null });
  });
});

describe('tenant isolation (contract art. 6)', () => {
  it('lists only the own tenant to a tenant, every tenant to the operator', async () => {
    expect((await get('/v1/tenants', tokA)).body.tenants.map((t: any) => t.code)).toEqual(['acme']);
    expect((await get('/v1/tenants', tokB)).body.tenants.map((t: any) => t.code)).toEqual(['globex']);
    expect((await get('/v1/tenants', OPERATOR)).body.tenants.map((t: any) => t.code)).toEqual(['acme', 'globex']);
  });

  it("answers another tenant's data exactly like a tenant that does not exist (404, no existence oracle)", async () => {
    for (const suffix of ['', '/balance', '/bills/2026-11', '/cdrs']) {
      const other = await get(`/v1/tenants/${idB}${suffix}`, tokA);
      const byCode = await get(`/v1/tenants/globex${suffix}`, tokA);
      const missing = await get(`/v1/tenants/999999${suffix}`, tokA);
      expect(other.status).toBe(404);
      expect(byCode.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(other.body.error.code).toBe(missing.body.error.code);
      // and the owner and the operator do see it
      expect((await get(`/v1/tenants/${idB}${suffix}`, tokB)).status).toBe(200);
      expect((await get(`/v1/tenants/globex${suffix}`, OPERATOR)).status).toBe(200);
    }
  });

  it('never returns a row of another tenant in the CDR listing', async () => {
    const r = await get('/v1/tenants/me/cdrs?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&limit=1000', tokB);
    expect(r.status).toBe(200);
    expect(r.body.cdrs).toHaveLength(CDRS_B);
    expect(r.body.cdrs.every((c: any) => c.callId.startsWith('b-'))).toBe(true);
  });
});

describe('balance', () => {
  it('reports usable paid and gift credit apart, from the ledger, and shows expired buckets as expired', async () => {
    const r = await get('/v1/tenants/me/balance', tokA);
    expect(r.status).toBe(200);
    expect(r.body.usablePaidFen).toBe(String(1_000_000 - 1_300 + 20_000 - 2_600));
    expect(r.body.usableGiftFen).toBe(String(50_000 - 130));
    expect(r.body.usableTotalFen).toBe(String(1_000_000 - 1_300 + 20_000 - 2_600 + 50_000 - 130));
    expect(r.body.usableTotalCny).toBe('10659.70');
    const expired = r.body.buckets.filter((b: any) => b.state === 'expired');
    expect(expired).toHaveLength(1);
    expect(expired[0].balanceFen).toBe('999');
  });
});

describe('monthly bills in service.timezone (Asia/Shanghai)', () => {
  it('October: top-up, gift and one call; the 00:30 Nov 1 Shanghai top-up is not in it', async () => {
    const r = await get(`/v1/tenants/${idA}/bills/2026-10`, tokA);
    expect(r.status).toBe(200);
    expect(r.body.periodStart).toBe('2026-09-30T16:00:00.000Z');
    expect(r.body.periodEnd).toBe('2026-10-31T16:00:00.000Z');
    expect(r.body.openingBalanceFen).toBe('999');
    expect(r.body.lines).toEqual([
      { kind: 'call_charge', creditedFen: '0', debitedFen: '1300', transfers: 1 },
      { kind: 'gift', creditedFen: '50000', debitedFen: '0', transfers: 1 },
      { kind: 'top_up', creditedFen: '1000000', debitedFen: '0', transfers: 1 },
    ]);
    expect(r.body.closingBalanceFen).toBe(String(999 + 1_050_000 - 1_300));
  });

  it('November: opens where October closed; closing = opening + credited - debited', async () => {
    const oct = (await get(`/v1/tenants/${idA}/bills/2026-10`, tokA)).body;
    const nov = (await get(`/v1/tenants/${idA}/bills/2026-11`, tokA)).body;
    expect(nov.openingBalanceFen).toBe(oct.closingBalanceFen);
    expect(nov.creditedFen).toBe('20000');
    expect(nov.debitedFen).toBe('2730'); // includes the charge at 23:59:59 Nov 30 Shanghai
    expect(BigInt(nov.closingBalanceFen)).toBe(BigInt(nov.openingBalanceFen) + BigInt(nov.creditedFen) - BigInt(nov.debitedFen));
    expect(nov.creditedCny).toBe('200.00');
    // the statement's calls: answered CDRs of the month by destination, amounts from the ledger only (these CDRs
    // have no charge transfers; the two charges of the month have no CDR and stay visible as such)
    const failed = Math.floor((CDRS_A - 1) / 3) + 1; // every third CDR (i % 3 == 0) failed
    expect(nov.calls).toEqual([
      { destination: '(charge without a CDR this month)', calls: 2, billedSeconds: 0, chargeFen: '2730' },
      { destination: '138', calls: CDRS_A - failed, billedSeconds: (CDRS_A - failed) * 60, chargeFen: '0' },
    ]);
  });

  it('is the statement of the month summarised (one rule): same balances and totals; deprecated with a link to it', async () => {
    for (const month of ['2026-10', '2026-11', '2027-03']) {
      const res = await fetch(`${base}/v1/tenants/me/bills/${month}`, { headers: { authorization: `Bearer ${tokA}` } });
      const bill = (await res.json()) as any;
      const st = (await get(`/v1/tenants/me/statements/${month}`, tokA)).body;
      const both = (k: 'openingFen' | 'closingFen') => String(BigInt(st.balances.paid[k]) + BigInt(st.balances.gift[k]));
      expect([bill.openingBalanceFen, bill.closingBalanceFen, bill.creditedFen, bill.debitedFen], month).toEqual([both('openingFen'), both('closingFen'), st.totals.creditedFen, st.totals.debitedFen]);
      expect(res.headers.get('deprecation')).toBe('true');
      expect(res.headers.get('link')).toBe(`</v1/tenants/me/statements/${month}>; rel="successor-version"`);
    }
  });

  it('a month without activity is an empty bill that still carries the balance', async () => {
    const r = await get(`/v1/tenants/${idA}/bills/2027-03`, tokA);
    expect(r.body.lines).toEqual([]);
    expect(r.body.openingBalanceFen).toBe(r.body.closingBalanceFen);
  });
});

describe('CDR listing', () => {
  it('walks every CDR of the range exactly once, newest first, through nextCursor', async () => {
    const seen: string[] = [];
    const times: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/tenants/me/cdrs?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await get(q, tokA);
      expect(r.status).toBe(200);
      for (const c of r.body.cdrs) {
        seen.push(c.callId);
        times.push(Date.parse(c.inviteAt));
      }
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(CDRS_A);
    expect(new Set(seen).size).toBe(CDRS_A);
    expect(times.every((t, i) => i === 0 || t <= times[i - 1]!)).toBe(true);
  });

  it('applies from (inclusive), to (exclusive) and result filters', async () => {
    // invite times are T0 - i*10min; [T0-50min, T0) holds i = 1..5
    const from = new Date(T0 - 50 * 60_000).toISOString();
    const to = new Date(T0).toISOString();
    const r = await get(`/v1/tenants/me/cdrs?from=${from}&to=${to}`, tokA);
    expect(r.body.cdrs.map((c: any) => c.callId)).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
    const f = await get(`/v1/tenants/me/cdrs?from=${from}&to=${to}&result=failed`, tokA);
    expect(f.body.cdrs.map((c: any) => c.callId)).toEqual(['a-3']);
    // zone offsets are honoured: the same instant written in +08:00
    const r8 = await get(`/v1/tenants/me/cdrs?from=${encodeURIComponent('2026-11-20T19:10:00+08:00')}&to=${encodeURIComponent('2026-11-20T20:00:00+08:00')}`, tokA);
    expect(r8.body.cdrs.map((c: any) => c.callId)).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
  });

  it('shows carrier-side detail (gateway, instance) to operators only', async () => {
    const q = '/v1/tenants/acme/cdrs?from=2026-11-20T11:00:00Z&to=2026-11-20T12:00:01Z&limit=1';
    const op = await get(q, OPERATOR);
    expect(op.body.cdrs[0].internal).toMatchObject({ gateway: 'gw-1', instanceId: 'inst-1' });
    const tenant = await get(q.replace('/acme/', '/me/'), tokA);
    expect(tenant.body.cdrs[0].callId).toBe(op.body.cdrs[0].callId);
    expect(tenant.body.cdrs[0]).not.toHaveProperty('internal');
    expect(tenant.body.cdrs[0].chargeFen).toBe('0'); // a-0 is a failed call: no charge
    expect(tenant.body.cdrs[0].pricePerMinute).toBe('0.130000');
  });
});

describe('bad input: 400 with a JSON error naming the problem; unknown 404; wrong method 405', () => {
  const cases: [string, string][] = [
    ['/v1/tenants/me/bills/2026-13', 'month'],
    ['/v1/tenants/me/bills/26-11', 'month'],
    ['/v1/tenants/me/cdrs?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'earlier'],
    ['/v1/tenants/me/cdrs?from=2020-01-01T00:00:00Z&to=2026-11-01T00:00:00Z', 'days'],
    ['/v1/tenants/me/cdrs?from=2026-11-01', 'from'],
    ['/v1/tenants/me/cdrs?from=2026-11-01T00:00:00', 'from'],
    ['/v1/tenants/me/cdrs?limit=0', 'limit'],
    ['/v1/tenants/me/cdrs?limit=5000', 'limit'],
    ['/v1/tenants/me/cdrs?limit=abc', 'limit'],
    ['/v1/tenants/me/cdrs?result=won', 'result'],
    ['/v1/tenants/me/cdrs?cursor=%7B%7D', 'cursor'],
    ['/v1/tenants/me/cdrs?cursor=eyJhIjoxfQ', 'cursor'],
    ['/v1/tenants/me/cdrs?tenant=2', 'query.tenant: unknown field'],
    ['/v1/tenants/me/cdrs?limit=1&limit=2', 'query.limit'],
    ['/v1/tenants/Bad!/balance', 'params.tenant'],
    ['/v1/tenants/me/balance?x=1', 'query.x: unknown field'],
  ];
  it.each(cases)('%s → 400 (%s)', async (path, mentions) => {
    const r = await get(path, tokA);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
    expect(r.body.error.message).toContain(mentions);
  });

  it('operators must name a tenant instead of "me"', async () => {
    const r = await get('/v1/tenants/me/balance', OPERATOR);
    expect(r.status).toBe(400);
  });

  it('unknown endpoints are 404 and wrong methods 405 with Allow', async () => {
    const r = await get('/v1/nothing', tokA);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    const p = await fetch(base + '/v1/tenants/me/balance', { method: 'POST', headers: { authorization: `Bearer ${tokA}` } });
    expect(p.status).toBe(405);
    expect(p.headers.get('allow')).toBe('GET');
    expect(((await p.json()) as any).error.code).toBe('method_not_allowed');
  });
});
