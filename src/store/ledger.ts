/**
 * SQL of the double-entry ledger (ledger_accounts, ledger_transfers): the statements src/ledger/ledger.ts runs to
 * post transfers, get-or-create accounts, and the ledger's own consistency read.
 */
import type { PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';

/** A transfer to insert (src/ledger/ledger.ts validates it first). */
export interface NewTransfer {
  idempotencyKey: string;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amountFen: bigint;
  kind: string;
  tenantId?: bigint | null;
  callId?: string | null;
  memo?: string | null;
  /** business time of the movement; null = the time of posting */
  bookedAt?: Date | null;
}

/**
 * Insert transfers in the order given, in one statement (the outbox writer posts hundreds at once); a key already
 * there is skipped. Returns the rows inserted now.
 */
export async function insertTransfers(c: PoolClient, ts: NewTransfer[]): Promise<{ id: bigint; idempotencyKey: string }[]> {
  const col = <T>(f: (t: NewTransfer) => T) => ts.map(f);
  const { rows } = await c.query<{ id: bigint; idempotency_key: string }>(
    `insert into ledger_transfers (idempotency_key, debit_account_id, credit_account_id, amount_fen, kind, tenant_id, call_id, memo, booked_at)
     select k, d, cr, a, kind, t, call, memo, coalesce(b, now())
       from unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::timestamptz[])
            with ordinality as u(k, d, cr, a, kind, t, call, memo, b, n)
      order by n
     on conflict (idempotency_key) do nothing returning id, idempotency_key`,
    [col((t) => t.idempotencyKey), col((t) => t.debitAccountId.toString()), col((t) => t.creditAccountId.toString()),
     col((t) => t.amountFen.toString()), col((t) => t.kind), col((t) => (t.tenantId == null ? null : t.tenantId.toString())),
     col((t) => t.callId ?? null), col((t) => t.memo ?? null), col((t) => t.bookedAt ?? null)],
  );
  return rows.map((r) => ({ id: r.id, idempotencyKey: r.idempotency_key }));
}

/** A posted transfer as the idempotency comparison reads it. */
export interface StoredTransfer {
  id: bigint;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amountFen: bigint;
  kind: string;
  tenantId: bigint | null;
  callId: string | null;
  memo: string | null;
}

/** The transfers posted under these keys, by key. */
export async function transfersByKey(c: Queryable, keys: string[]): Promise<Map<string, StoredTransfer>> {
  const { rows } = await c.query<{
    id: bigint; idempotency_key: string; debit_account_id: bigint; credit_account_id: bigint; amount_fen: bigint; kind: string;
    tenant_id: bigint | null; call_id: string | null; memo: string | null;
  }>(
    `select id, idempotency_key, debit_account_id, credit_account_id, amount_fen, kind, tenant_id, call_id, memo
       from ledger_transfers where idempotency_key = any($1::text[])`,
    [keys],
  );
  return new Map(rows.map((r) => [r.idempotency_key, {
    id: r.id, debitAccountId: r.debit_account_id, creditAccountId: r.credit_account_id, amountFen: r.amount_fen, kind: r.kind,
    tenantId: r.tenant_id, callId: r.call_id, memo: r.memo,
  }]));
}

/** Whether any transfer was posted under this key. */
export async function transferKeyExists(db: Queryable, key: string): Promise<boolean> {
  return ((await db.query('select 1 from ledger_transfers where idempotency_key = $1', [key])).rowCount ?? 0) > 0;
}

/**
 * Add a batch's totals to an account's posted sums; false (nothing changed) when the account is must_not_overdraw
 * and would go below zero, or does not exist.
 */
export async function addToAccount(c: PoolClient, accountId: bigint, debitFen: bigint, creditFen: bigint): Promise<boolean> {
  const r = await c.query<{ id: bigint }>(
    `update ledger_accounts set debits_posted = debits_posted + $2, credits_posted = credits_posted + $3
      where id = $1 and (not must_not_overdraw or credits_posted + $3 - debits_posted - $2 >= 0)
      returning id`,
    [accountId.toString(), debitFen.toString(), creditFen.toString()],
  );
  return r.rowCount === 1;
}

/** An account's code and balance (credits - debits posted), or null when there is none. */
export async function accountState(db: Queryable, accountId: bigint): Promise<{ code: string; balanceFen: bigint } | null> {
  const r = (await db.query<{ code: string; balance: bigint }>('select code, credits_posted - debits_posted as balance from ledger_accounts where id = $1', [accountId.toString()])).rows[0];
  return r ? { code: r.code, balanceFen: r.balance } : null;
}

/** An account's balance from its posted totals, or null when there is none. */
export async function accountBalanceOf(db: Queryable, accountId: bigint): Promise<bigint | null> {
  const r = (await db.query<{ b: bigint }>('select (credits_posted - debits_posted)::int8 as b from ledger_accounts where id = $1', [accountId.toString()])).rows[0];
  return r ? r.b : null;
}

interface NewAccount {
  code: string;
  kind: string;
  tenantId: bigint | null;
  bucketId: bigint | null;
  mustNotOverdraw: boolean;
}

/** The id of the account with this code, created first when there is none. */
export async function getOrCreateAccount(db: Queryable, a: NewAccount): Promise<bigint> {
  const ins = await db.query<{ id: bigint }>(
    `insert into ledger_accounts (code, kind, tenant_id, bucket_id, must_not_overdraw) values ($1, $2, $3, $4, $5)
     on conflict do nothing returning id`,
    [a.code, a.kind, a.tenantId?.toString() ?? null, a.bucketId?.toString() ?? null, a.mustNotOverdraw],
  );
  if (ins.rows[0]) return ins.rows[0].id;
  const sel = await db.query<{ id: bigint }>('select id from ledger_accounts where code = $1', [a.code]);
  if (!sel.rows[0]) throw new Error(`ledger account ${a.code} could not be created`);
  return sel.rows[0].id;
}

/**
 * Accounts whose posted totals differ from the sum of their transfers (should be none; reconcile and tests
 * check it).
 */
export async function inconsistentAccounts(db: Queryable): Promise<{ accountId: bigint; code: string; postedFen: bigint; transfersFen: bigint }[]> {
  const { rows } = await db.query<{ id: bigint; code: string; posted: bigint; summed: bigint }>(
    `select a.id, a.code, (a.credits_posted - a.debits_posted)::int8 as posted,
            (coalesce((select sum(amount_fen) from ledger_transfers where credit_account_id = a.id), 0)
           - coalesce((select sum(amount_fen) from ledger_transfers where debit_account_id = a.id), 0))::int8 as summed
       from ledger_accounts a`,
  );
  return rows.filter((r) => r.posted !== r.summed).map((r) => ({ accountId: r.id, code: r.code, postedFen: r.posted, transfersFen: r.summed }));
}

/** A tenant's refund transfers (bucket → cash, kind refund), oldest first, with the bucket each came from. */
export async function refundTransfers(db: Queryable, tenantId: bigint): Promise<{ key: string; bucketId: bigint; amountFen: bigint; transferId: bigint; bookedAt: Date }[]> {
  const { rows } = await db.query<{ key: string; bucket_id: bigint; amount_fen: bigint; id: bigint; booked_at: Date }>(
    `select t.idempotency_key as key, a.bucket_id, t.amount_fen, t.id, t.booked_at
       from ledger_transfers t join ledger_accounts a on a.id = t.debit_account_id
      where t.kind = 'refund' and t.tenant_id = $1 order by t.id`,
    [tenantId.toString()],
  );
  return rows.map((r) => ({ key: r.key, bucketId: r.bucket_id, amountFen: r.amount_fen, transferId: r.id, bookedAt: r.booked_at }));
}
