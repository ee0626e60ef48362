import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { loadConfig } from '../../src/config/config.js';
import type { ServiceDeps } from '../../src/services/context.js';
import { showStatement, statementCsv, statementPdf, issueInvoice, listInvoices, invoicePdf } from '../../src/services/statements.js';
import { recordPayment } from '../../src/services/billing.js';
import { createTenant, setTenantRatePlan } from '../../src/tenants/tenants.js';
import { createOrder } from '../../src/tenants/orders.js';
import { creditTenant } from '../../src/tenants/credits.js';
import { accrueLateFees, chargeRent } from '../../src/tenants/billing.js';
import { owedFen } from '../../src/store/receivables.js';
import { WorkingCalendar } from '../../src/calendar/calendar.js';
import { readCalendarFiles } from '../../src/calendar/load.js';
import { findCjkFont } from '../../src/billing/pdf.js';
import { accountBalance, bucketAccount, postTransfers, systemAccount, tenantReceivableAccount } from '../../src/ledger/ledger.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';

const TZ = 'Asia/Shanghai';
const CAL = WorkingCalendar.fromYears(readCalendarFiles(), TZ);
const OP = { kind: 'operator' as const, id: 'test' };
let db: TestDb;
let deps: ServiceDeps;
let clock = new Date('2026-03-31T16:00:00Z');

beforeAll(async () => {
  db = await createTestDb({ poolSize: 10 });
  deps = { config: loadConfig({}, { 'postgres.url': db.url }), pool: db.pool, redis: async () => ({ redis: null, error: 'not used' }), logger: pino({ level: 'silent' }), now: () => clock };
  await db.pool.query(`insert into rate_plans (name) values ('p')`);
  await db.pool.query(`insert into rate_deck_entries (rate_plan_id, prefix, destination, price_per_minute) select id, x.prefix, x.dest, 0.1 from rate_plans,
    (values ('8613', 'China mobile 13x'), ('86571', 'Hangzhou fixed'), ('8610', 'Beijing fixed')) as x(prefix, dest)`);
});
afterAll(async () => db.drop());

/** A call as the outbox writes it: the CDR and its ledger charge, both at the call's end. */
async function call(tenantId: bigint, bucketId: bigint, id: string, prefix: string, endAt: Date, seconds: number, fen: bigint): Promise<void> {
  const invite = new Date(endAt.getTime() - seconds * 1000 - 3000);
  await db.pool.query(`select ensure_cdr_partitions($1, 1)`, [invite]);
  await db.pool.query(
    `insert into cdrs (call_id, invite_at, tenant_id, a_call_id, caller, callee, answer_at, end_at, billable_seconds, duration_ms, rate_plan_id, rate_prefix, charge_fen, sip_status, result)
     values ($1, $2, $3, $1, '+8657188880000', $4, $5, $6, $7, $8, (select id from rate_plans where name = 'p'), $9, $10, 200, 'answered')`,
    [id, invite, tenantId.toString(), `${prefix}0000000`, new Date(invite.getTime() + 3000), endAt, seconds, seconds * 1000, prefix, fen.toString()],
  );
  if (fen > 0n) {
    await postTransfers(db.pool, [{ idempotencyKey: `call:${id}:${bucketId}`, debitAccountId: await bucketAccount(db.pool, bucketId), creditAccountId: await systemAccount(db.pool, 'revenue:calls'),
      amountFen: fen, kind: 'call_charge', tenantId, callId: id, bookedAt: endAt }]);
  }
}

describe('monthly statement', () => {
  it('over a month of random activity every total ties to the ledger to the fen', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ day: fc.integer({ min: 0, max: 29 }), what: fc.constantFrom('call', 'call', 'call', 'topup', 'gift', 'pay'), amount: fc.integer({ min: 1, max: 50_000 }),
        prefix: fc.constantFrom('8613', '86571', '8610'), seconds: fc.integer({ min: 1, max: 3600 }) }), { minLength: 5, maxLength: 25 }),
      async (events) => {
        n += 1;
        const t = await createTenant(db.pool, { code: `st${n}`, legalName: `杭州示例科技有限公司 ${n}` });
        await setTenantRatePlan(db.pool, t.id, 'p');
        // signed and activated in March, unpaid: receivables in March, late fees run into April
        const o = await createOrder(db.pool, { tenantId: t.id, orderNo: `ST-${n}`, packageAmountFen: 500_000n, packageCount: 1, validityMonths: 12, numberCount: 1,
          rent: { amountFen: 4_200n, period: 'month' }, paid: false, numbers: [`+86571888${String(n).padStart(5, '0')}`], signedAt: new Date('2026-03-20T02:00:00Z') }, CAL);
        const first = await creditTenant(db.pool, { tenantId: t.id, kind: 'paid', amountFen: 2_000_000n, validFrom: new Date('2026-03-01Z'), expiresAt: null, idempotencyKey: `topup:st${n}:0`, bookedAt: new Date('2026-03-25T02:00:00Z') });
        let bucket = first.bucketId;
        const start = new Date('2026-03-31T16:00:00Z'); // 2026-04-01 00:00 Shanghai
        let i = 0;
        for (const e of events) {
          i += 1;
          const at = new Date(start.getTime() + e.day * 86_400_000 + 3_600_000 * (1 + (i % 20)));
          if (e.what === 'call') {
            const bal = (await tenantBuckets(db.pool, t.id)).find((b) => b.bucketId === bucket)!.balanceFen;
            await call(t.id, bucket, `st${n}-c${i}`, e.prefix, at, e.seconds, BigInt(e.amount) < bal ? BigInt(e.amount) : 0n);
          } else if (e.what === 'pay') {
            const owed = await owedFen(db.pool, t.id);
            if (owed > 0n) await recordPayment(deps, OP, { tenant: t.code, amountFen: owed < BigInt(e.amount) ? owed : BigInt(e.amount), reference: `st${n}-p${i}`, receivedAt: at });
          } else {
            const c = await creditTenant(db.pool, { tenantId: t.id, kind: e.what === 'gift' ? 'gift' : 'paid', amountFen: BigInt(e.amount), validFrom: at, expiresAt: null, idempotencyKey: `topup:st${n}:${i}`, bookedAt: at });
            if (e.what === 'topup') bucket = c.bucketId;
          }
        }
        await chargeRent(db.pool, t.id, new Date('2026-04-29T00:00:00Z'), CAL);
        await accrueLateFees(db.pool, t.id, new Date('2026-04-30T15:00:00Z'), CAL);
        clock = new Date('2026-05-02T00:00:00Z');
        const s = await showStatement(deps, OP, { tenant: t.code, month: '2026-04' });
        const q = async (sql: string, ...args: unknown[]) => (await db.pool.query<{ s: bigint }>(sql, args)).rows[0]!.s;
        const inApril = `booked_at >= '2026-03-31T16:00:00Z' and booked_at < '2026-04-30T16:00:00Z'`;
        // nothing is booked after April: the closing balances are the ledger's posted balances now
        const buckets = await tenantBuckets(db.pool, t.id);
        const posted = (k: string) => buckets.filter((b) => b.kind === k).reduce((x, b) => x + b.balanceFen, 0n);
        expect(s.balances.paid.closingFen).toBe(posted('paid'));
        expect(s.balances.gift.closingFen).toBe(posted('gift'));
        expect(s.balances.paid.openingFen).toBe(2_000_000n); // only the March top-up before April
        expect(s.balances.gift.openingFen).toBe(0n);
        expect(s.calls.totalFen).toBe(await q(`select coalesce(sum(amount_fen), 0)::int8 as s from ledger_transfers where tenant_id = $1 and kind = 'call_charge' and ${inApril}`, t.id.toString()));
        expect(s.calls.totalCalls).toBe(events.filter((e) => e.what === 'call').length);
        expect(s.calls.groups.reduce((x, g) => x + g.billedSeconds, 0)).toBe(events.filter((e) => e.what === 'call').reduce((x, e) => x + e.seconds, 0));
        const sumKind = (k: string) => q(`select coalesce(sum(amount_fen), 0)::int8 as s from ledger_transfers where tenant_id = $1 and kind = '${k}' and ${inApril}`, t.id.toString());
        expect(s.topUps.reduce((x, l) => x + l.amountFen, 0n)).toBe(await sumKind('top_up'));
        expect(s.gifts.reduce((x, l) => x + l.amountFen, 0n)).toBe(await sumKind('gift'));
        expect(s.rent.reduce((x, l) => x + l.amountFen, 0n)).toBe(await sumKind('rental'));
        expect(s.lateFees.reduce((x, l) => x + l.amountFen, 0n)).toBe(await sumKind('late_fee'));
        expect(s.receivables.paidFen).toBe(await sumKind('payment'));
        // owed at the end = the receivables' outstanding = minus the receivable account's balance
        expect(s.receivables.closingOwedFen).toBe(await owedFen(db.pool, t.id));
        expect(s.receivables.closingOwedFen).toBe(-(await accountBalance(db.pool, await tenantReceivableAccount(db.pool, t.id))));
        // March: package + first month's rent, due 2026-03-26 00:00 (3 working days after Fri 03-20), overdue Mar 26-31
        expect(s.receivables.openingOwedFen).toBe(o.order.totalFen - 11n * 4_200n + 6n * (1_500n + 12n));
        expect(s.tenant.legalName).toBe(`杭州示例科技有限公司 ${n}`);
        expect(statementCsv(s).split('\n')[0]).toBe('section,date,description,amount_cny');
      },
    ), { numRuns: 4 });
    expect(await inconsistentAccounts(db.pool)).toEqual([]);
  }, 180_000);

  const hasFont = (() => { try { findCjkFont(''); return true; } catch { return false; } })();
  const hasPdftotext = existsSync('/usr/bin/pdftotext');
  it.skipIf(!hasFont || !hasPdftotext)('the PDF carries the Chinese legal name, the period and the totals (checked with pdftotext; skipped without fonts-wqy-zenhei/poppler-utils, which scripts/services.sh installs)', async () => {
    const s = await showStatement(deps, OP, { tenant: 'st1', month: '2026-04' });
    const pdf = await statementPdf(deps, s);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const dir = mkdtempSync(join(tmpdir(), 'stmt-'));
    writeFileSync(join(dir, 's.pdf'), pdf);
    const text = execFileSync('pdftotext', ['-layout', join(dir, 's.pdf'), '-'], { encoding: 'utf8' });
    expect(text).toContain('杭州示例科技有限公司 1');
    expect(text).toContain('2026-04-01');
    expect(text).toContain(`${(Number(s.calls.totalFen) / 100).toFixed(2)} CNY`);
    expect(text).toContain(`${(Number(s.receivables.closingOwedFen) / 100).toFixed(2)} CNY`);
  });

  it('invoices: one per payment, gapless numbers, VAT split half-up, VAT special needs a tax id, immutable', async () => {
    const t = await createTenant(db.pool, { code: 'inv', legalName: '上海发票测试有限公司' });
    await createOrder(db.pool, { tenantId: t.id, orderNo: 'INV-1', packageAmountFen: 100_000n, packageCount: 1, validityMonths: 12, numberCount: 0,
      rent: { amountFen: 0n, period: 'year' }, paid: false, numbers: [], signedAt: new Date('2026-04-01T02:00:00Z') }, CAL);
    await recordPayment(deps, OP, { tenant: 'inv', amountFen: 60_000n, reference: 'INV-P1', receivedAt: new Date('2026-04-02T02:00:00Z') });
    await recordPayment(deps, OP, { tenant: 'inv', amountFen: 40_000n, reference: 'INV-P2', receivedAt: new Date('2026-04-03T02:00:00Z') });
    clock = new Date('2026-04-05T02:00:00Z');
    const a = await issueInvoice(deps, OP, { tenant: 'inv', payment: 'INV-P1', kind: 'general' });
    // 600.00 incl. 9% VAT: net 550.458.. → 550.46, tax 49.54
    expect(a.invoice).toMatchObject({ number: '2026-00000001', buyerName: '上海发票测试有限公司', netFen: 55_046n, taxFen: 4_954n, totalFen: 60_000n, ratePercent: '9.00' });
    await expect(issueInvoice(deps, OP, { tenant: 'inv', payment: 'INV-P2', kind: 'vat_special' })).rejects.toThrow(/general taxpayer/);
    const b = await issueInvoice(deps, OP, { tenant: 'inv', payment: 'INV-P2', kind: 'vat_special', buyerTaxId: '91310000MA1K00000X' });
    expect(b.invoice.number).toBe('2026-00000002');
    expect((await issueInvoice(deps, OP, { tenant: 'inv', payment: 'INV-P1', kind: 'general' })).duplicate).toBe(true);
    await expect(issueInvoice(deps, OP, { tenant: 'inv', payment: 'NOPE', kind: 'general' })).rejects.toThrow(/no payment/);
    expect((await listInvoices(deps, OP, { tenant: 'inv' })).map((i) => i.number)).toEqual(['2026-00000001', '2026-00000002']);
    await expect(db.pool.query(`update invoices set total_fen = 1`)).rejects.toThrow(/immutable/);
    // a tenant sees only its own invoices
    await expect(invoicePdf(deps, { kind: 'tenant', id: 'x', tenantId: t.id + 1000n }, { number: '2026-00000001' })).rejects.toThrow(/no invoice/);
    if (hasFont && hasPdftotext) {
      const dir = mkdtempSync(join(tmpdir(), 'inv-'));
      writeFileSync(join(dir, 'i.pdf'), await invoicePdf(deps, OP, { number: '2026-00000002' }));
      const text = execFileSync('pdftotext', [join(dir, 'i.pdf'), '-'], { encoding: 'utf8' });
      expect(text).toContain('上海发票测试有限公司');
      expect(text).toContain('91310000MA1K00000X');
    }
  });
});
