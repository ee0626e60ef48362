import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  accountBalance,
  bucketAccount,
  postTransfers,
  systemAccount,
  type TransferInput,
} from '../../src/ledger/ledger.js';
import { LedgerError } from '../../src/ledger/errors.js';
import { withTransaction } from '../../src/db/tx.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { inconsistentAccounts } from '../../src/store/ledger.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { propertyRun } from '../helpers/property.js';

let db: TestDb;
let tenantId: bigint;
let seq = 0;

async function newBucket(kind: 'paid' | 'gift' = 'paid'): Promise<bigint> {
  const r = await db.pool.query<{ id: bigint }>(`insert into balance_buckets (tenant_id, kind) values ($1, $2) returning id`, [tenantId.toString(), kind]);
  return r.rows[0]!.id;
}

function key(p: string): string {
  return `${p}:${++seq}`;
}

beforeAll(async () => {
  db = await createTestDb(); // the concurrent tests queue on the bounded pool: contention stays real, connections few
  const t = await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name) values ('ledger-t', 'Ledger Test Co.') returning id`);
  tenantId = t.rows[0]!.id;
});
afterAll(async () => db.drop());

describe('ledger accounts', () => {
  it('system and bucket accounts are created once, even when requested concurrently', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => systemAccount(db.pool, 'revenue:calls')));
    expect(new Set(ids).size).toBe(1);
    const b = await newBucket();
    const bids = await Promise.all(Array.from({ length: 20 }, () => bucketAccount(db.pool, b)));
    expect(new Set(bids).size).toBe(1);
    const row = (await db.pool.query<{ code: string; must_not_overdraw: boolean }>('select code, must_not_overdraw from ledger_accounts where id = $1', [bids[0]!.toString()])).rows[0]!;
    expect(row).toEqual({ code: `tenant:${tenantId}:bucket:${b}`, must_not_overdraw: true });
  });

  it('bucketAccount of a missing bucket is a LedgerError unknown_bucket', async () => {
    await expect(bucketAccount(db.pool, 987654321n)).rejects.toMatchObject({ code: 'unknown_bucket' });
  });
});

describe('postTransfers', () => {
  it('50 concurrent posts of the same key make exactly one transfer', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const acct = await bucketAccount(db.pool, await newBucket());
    const t: TransferInput = { idempotencyKey: key('same'), debitAccountId: cash, creditAccountId: acct, amountFen: 12345n, kind: 'top_up', tenantId };
    const results = await Promise.all(Array.from({ length: 50 }, () => postTransfers(db.pool, [t])));
    expect(results.reduce((n, r) => n + r.posted.length, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.duplicates.length, 0)).toBe(49);
    const allIds = new Set(results.flatMap((r) => [...r.posted, ...r.duplicates]));
    expect(allIds.size).toBe(1);
    const count = await db.pool.query<{ n: bigint }>('select count(*)::int8 as n from ledger_transfers where idempotency_key = $1', [t.idempotencyKey]);
    expect(count.rows[0]!.n).toBe(1n);
    expect(await accountBalance(db.pool, acct)).toBe(12345n);
  });

  it('a replayed key with different content is refused and changes nothing', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const acct = await bucketAccount(db.pool, await newBucket());
    const k = key('replay');
    await postTransfers(db.pool, [{ idempotencyKey: k, debitAccountId: cash, creditAccountId: acct, amountFen: 100n, kind: 'top_up', tenantId }]);
    const err = await postTransfers(db.pool, [{ idempotencyKey: k, debitAccountId: cash, creditAccountId: acct, amountFen: 101n, kind: 'top_up', tenantId }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerError);
    expect((err as LedgerError).code).toBe('idempotency_conflict');
    // memo differs → also a different transfer
    await expect(
      postTransfers(db.pool, [{ idempotencyKey: k, debitAccountId: cash, creditAccountId: acct, amountFen: 100n, kind: 'top_up', tenantId, memo: 'x' }]),
    ).rejects.toMatchObject({ code: 'idempotency_conflict' });
    expect(await accountBalance(db.pool, acct)).toBe(100n);
  });

  it('many concurrent debits of one must_not_overdraw account never overdraw it', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const revenue = await systemAccount(db.pool, 'revenue:calls');
    const acct = await bucketAccount(db.pool, await newBucket());
    await postTransfers(db.pool, [{ idempotencyKey: key('fund'), debitAccountId: cash, creditAccountId: acct, amountFen: 1000n, kind: 'top_up', tenantId }]);
    // 40 debits of 70 fen = 2800 > 1000: exactly floor(1000/70) = 14 may succeed
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        postTransfers(db.pool, [{ idempotencyKey: key(`debit${i}`), debitAccountId: acct, creditAccountId: revenue, amountFen: 70n, kind: 'call_charge', tenantId, callId: `c${i}` }]),
      ),
    );
    const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(ok).toBe(14);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'overdraw' });
    expect(await accountBalance(db.pool, acct)).toBe(1000n - 14n * 70n);
  });

  it('a batch is all-or-nothing: one overdrawing transfer refuses the whole batch', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const revenue = await systemAccount(db.pool, 'revenue:calls');
    const acct = await bucketAccount(db.pool, await newBucket());
    const k1 = key('batch-a');
    const k2 = key('batch-b');
    await expect(
      postTransfers(db.pool, [
        { idempotencyKey: k1, debitAccountId: cash, creditAccountId: acct, amountFen: 50n, kind: 'top_up', tenantId },
        { idempotencyKey: k2, debitAccountId: acct, creditAccountId: revenue, amountFen: 51n, kind: 'call_charge', tenantId },
      ]),
    ).rejects.toMatchObject({ code: 'overdraw' });
    const n = await db.pool.query<{ n: bigint }>('select count(*)::int8 as n from ledger_transfers where idempotency_key in ($1, $2)', [k1, k2]);
    expect(n.rows[0]!.n).toBe(0n);
    expect(await accountBalance(db.pool, acct)).toBe(0n);
    // within the batch, a credit may fund a debit of the same account
    const ok = await postTransfers(db.pool, [
      { idempotencyKey: k1, debitAccountId: cash, creditAccountId: acct, amountFen: 50n, kind: 'top_up', tenantId },
      { idempotencyKey: k2, debitAccountId: acct, creditAccountId: revenue, amountFen: 50n, kind: 'call_charge', tenantId },
    ]);
    expect(ok.posted).toHaveLength(2);
    expect(await accountBalance(db.pool, acct)).toBe(0n);
  });

  it('inside a caller transaction: a LedgerError leaves the transaction usable, and a rollback undoes posted transfers', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const revenue = await systemAccount(db.pool, 'revenue:calls');
    const acct = await bucketAccount(db.pool, await newBucket());
    const k = key('tx');
    await expect(
      withTransaction(db.pool, async (c) => {
        await postTransfers(c, [{ idempotencyKey: k, debitAccountId: cash, creditAccountId: acct, amountFen: 10n, kind: 'top_up', tenantId }]);
        await expect(
          postTransfers(c, [{ idempotencyKey: key('tx-over'), debitAccountId: acct, creditAccountId: revenue, amountFen: 11n, kind: 'call_charge', tenantId }]),
        ).rejects.toMatchObject({ code: 'overdraw' });
        expect(await accountBalance(c, acct)).toBe(10n); // still usable after the refused batch
        throw new Error('caller aborts');
      }),
    ).rejects.toThrow('caller aborts');
    expect(await accountBalance(db.pool, acct)).toBe(0n);
    const n = await db.pool.query<{ n: bigint }>('select count(*)::int8 as n from ledger_transfers where idempotency_key = $1', [k]);
    expect(n.rows[0]!.n).toBe(0n);
  });

  it('a PoolClient outside any transaction still posts a batch atomically', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const revenue = await systemAccount(db.pool, 'revenue:calls');
    const acct = await bucketAccount(db.pool, await newBucket());
    const c = await db.pool.connect();
    try {
      await expect(
        postTransfers(c, [
          { idempotencyKey: key('nt-a'), debitAccountId: cash, creditAccountId: acct, amountFen: 5n, kind: 'top_up', tenantId },
          { idempotencyKey: key('nt-b'), debitAccountId: acct, creditAccountId: revenue, amountFen: 6n, kind: 'call_charge', tenantId },
        ]),
      ).rejects.toMatchObject({ code: 'overdraw' });
      expect(await accountBalance(c, acct)).toBe(0n);
    } finally {
      c.release();
    }
  });

  it('bad input is refused with a named field and nothing written', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const acct = await bucketAccount(db.pool, await newBucket());
    const base: TransferInput = { idempotencyKey: key('bad'), debitAccountId: cash, creditAccountId: acct, amountFen: 1n, kind: 'top_up' };
    await expect(postTransfers(db.pool, [{ ...base, amountFen: 0n }])).rejects.toThrow(/amountFen/);
    await expect(postTransfers(db.pool, [{ ...base, amountFen: -5n }])).rejects.toThrow(/amountFen/);
    await expect(postTransfers(db.pool, [{ ...base, creditAccountId: cash }])).rejects.toThrow(/creditAccountId/);
    await expect(postTransfers(db.pool, [{ ...base, idempotencyKey: '' }])).rejects.toThrow(/idempotencyKey/);
    await expect(postTransfers(db.pool, [{ ...base, kind: 'bonus' as never }])).rejects.toThrow(/kind/);
    await expect(postTransfers(db.pool, [{ ...base, creditAccountId: 99999999n }])).rejects.toMatchObject({ code: 'unknown_account' });
    expect(await accountBalance(db.pool, acct)).toBe(0n);
  });
});

describe('balances', () => {
  it('every account balance equals the sum of its transfers after random concurrent traffic', async () => {
    const cash = await systemAccount(db.pool, 'cash');
    const gift = await systemAccount(db.pool, 'gift_funding');
    const revenue = await systemAccount(db.pool, 'revenue:calls');
    const expired = await systemAccount(db.pool, 'expired');
    const buckets = [await bucketAccount(db.pool, await newBucket()), await bucketAccount(db.pool, await newBucket('gift'))];
    const op = fc.record({
      which: fc.integer({ min: 0, max: 3 }),
      bucket: fc.integer({ min: 0, max: 1 }),
      amount: fc.bigInt({ min: 1n, max: 5000n }),
    });
    const all = [cash, gift, revenue, expired, ...buckets];
    const balances = async () => new Map(await Promise.all(all.map(async (a) => [a, await accountBalance(db.pool, a)] as const)));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const before = await balances();
        const legs = ops.map((o) => {
          const b = buckets[o.bucket]!;
          const [debit, credit, kind] =
            o.which === 0 ? [cash, b, 'top_up'] : o.which === 1 ? [gift, b, 'gift'] : o.which === 2 ? [b, revenue, 'call_charge'] : [b, expired, 'expiry_clear'];
          return { debit, credit, kind: kind as TransferInput['kind'], amount: o.amount };
        });
        const outcomes = await Promise.allSettled(legs.map((l) =>
          postTransfers(db.pool, [{ idempotencyKey: key('prop'), debitAccountId: l.debit, creditAccountId: l.credit, amountFen: l.amount, kind: l.kind, tenantId }])));
        // a post may fail only as an overdraw of a bucket it debits; funding a bucket always succeeds
        const expected = new Map(before);
        outcomes.forEach((out, i) => {
          const l = legs[i]!;
          if (out.status === 'rejected') {
            expect(out.reason, `${l.kind} of ${l.amount}`).toMatchObject({ code: 'overdraw' });
            expect(buckets).toContain(l.debit);
            return;
          }
          expect(out.value.posted).toHaveLength(1);
          expected.set(l.debit, expected.get(l.debit)! - l.amount);
          expected.set(l.credit, expected.get(l.credit)! + l.amount);
        });
        // every account, debit side (cash, gift funding, the debited buckets) and credit side, moved by exactly the posts that succeeded
        expect(await balances()).toEqual(expected);
        expect(await inconsistentAccounts(db.pool)).toEqual([]);
        for (const b of buckets) expect(await accountBalance(db.pool, b)).toBeGreaterThanOrEqual(0n);
      }),
      propertyRun('ledger balances', 15),
    );
    // the whole ledger balances: sum of all account balances is zero (every transfer is one debit and one credit)
    const total = await db.pool.query<{ s: bigint }>('select coalesce(sum(credits_posted - debits_posted), 0)::int8 as s from ledger_accounts');
    expect(total.rows[0]!.s).toBe(0n);
  });

  it('tenantBuckets reports each bucket with its ledger balance, 0 for a bucket without an account', async () => {
    const t = await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name) values ('tb', 'TB Co.') returning id`);
    const tid = t.rows[0]!.id;
    const expires = new Date('2030-01-01T00:00:00Z');
    const b1 = (await db.pool.query<{ id: bigint }>(`insert into balance_buckets (tenant_id, kind, valid_from, expires_at) values ($1, 'paid', '2026-01-01Z', $2) returning id`, [tid.toString(), expires])).rows[0]!.id;
    const b2 = (await db.pool.query<{ id: bigint }>(`insert into balance_buckets (tenant_id, kind) values ($1, 'gift') returning id`, [tid.toString()])).rows[0]!.id;
    const cash = await systemAccount(db.pool, 'cash');
    await postTransfers(db.pool, [{ idempotencyKey: key('tb'), debitAccountId: cash, creditAccountId: await bucketAccount(db.pool, b1), amountFen: 777n, kind: 'top_up', tenantId: tid }]);
    const got = await tenantBuckets(db.pool, tid);
    expect(got).toEqual([
      { bucketId: b1, kind: 'paid', validFrom: new Date('2026-01-01T00:00:00Z'), expiresAt: expires, balanceFen: 777n },
      { bucketId: b2, kind: 'gift', validFrom: expect.any(Date), expiresAt: null, balanceFen: 0n },
    ]);
  });
});
