/**
 * Double-entry ledger on PostgreSQL (tables ledger_accounts, ledger_transfers of 001_init.sql).
 *
 * Conventions (TigerBeetle-style): every transfer debits one account and credits another by a positive amount of
 * fen; an account's balance = credits_posted - debits_posted = the sum of its transfers. Tenant buckets and revenue
 * are credit-normal (a top-up credits the bucket, a call charge debits it); cash, gift funding and receivable
 * run negative (debit-normal) by design. Accounts flagged must_not_overdraw (tenant buckets) can never go below 0.
 *
 * Every function takes a Queryable: a Pool (postTransfers then runs its own transaction) or a PoolClient (its
 * statements run inside the caller's transaction, behind a savepoint so a LedgerError leaves that transaction
 * usable).
 */
import pg from 'pg';
import { withTransaction } from '../db/pool.js';

export type Queryable = pg.Pool | pg.PoolClient;

export type TransferKind =
  | 'top_up' | 'gift' | 'call_charge' | 'rental' | 'late_fee' | 'expiry_clear' | 'refund' | 'adjustment' | 'order' | 'payment' | 'early_termination';
export const TRANSFER_KINDS: readonly TransferKind[] = [
  'top_up', 'gift', 'call_charge', 'rental', 'late_fee', 'expiry_clear', 'refund', 'adjustment', 'order', 'payment', 'early_termination',
];

export type SystemAccountCode =
  | 'cash' | 'gift_funding' | 'revenue:calls' | 'revenue:rental' | 'revenue:late_fee' | 'revenue:early_termination' | 'expired' | 'prepaid_billed';
const SYSTEM_ACCOUNT_KIND: Record<SystemAccountCode, string> = {
  cash: 'cash',
  gift_funding: 'gift_funding',
  'revenue:calls': 'revenue',
  'revenue:rental': 'revenue',
  'revenue:late_fee': 'revenue',
  'revenue:early_termination': 'revenue',
  expired: 'expired',
  // prepaid packages billed and not yet paid: credited when an order is billed, debited when its payment funds the bucket
  prepaid_billed: 'deferred',
};

export interface TransferInput {
  idempotencyKey: string;
  debitAccountId: bigint;
  creditAccountId: bigint;
  amountFen: bigint;
  kind: TransferKind;
  tenantId?: bigint | null;
  callId?: string | null;
  memo?: string | null;
  /** business time of the movement (statements group by it); default the time of posting. Not part of the
   * idempotency comparison: a retry computed at another instant is still the same transfer. */
  bookedAt?: Date | null;
}

export type LedgerErrorCode = 'invalid_transfer' | 'idempotency_conflict' | 'overdraw' | 'unknown_account' | 'unknown_bucket';

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

export interface PostResult {
  posted: bigint[];
  duplicates: bigint[];
  results: { id: bigint; duplicate: boolean }[]; // per input transfer, in input order
}

const MAX_KEY_LENGTH = 200;

/** Pure validation of one transfer; throws LedgerError('invalid_transfer') naming the bad field. */
export function validateTransfer(t: TransferInput): void {
  const bad = (field: string, why: string): never => {
    throw new LedgerError('invalid_transfer', `transfer ${JSON.stringify(t.idempotencyKey)}: ${field} ${why}`, { field });
  };
  if (typeof t.idempotencyKey !== 'string' || t.idempotencyKey.length === 0 || t.idempotencyKey.length > MAX_KEY_LENGTH) {
    bad('idempotencyKey', `must be 1-${MAX_KEY_LENGTH} characters`);
  }
  if (typeof t.amountFen !== 'bigint' || t.amountFen <= 0n) bad('amountFen', 'must be a bigint > 0');
  if (t.amountFen >= 2n ** 63n) bad('amountFen', 'exceeds bigint range');
  if (typeof t.debitAccountId !== 'bigint' || typeof t.creditAccountId !== 'bigint') bad('account ids', 'must be bigint');
  if (t.debitAccountId === t.creditAccountId) bad('creditAccountId', 'must differ from debitAccountId');
  if (!TRANSFER_KINDS.includes(t.kind)) bad('kind', `must be one of ${TRANSFER_KINDS.join(', ')}`);
}

interface StoredTransfer {
  id: bigint;
  debit_account_id: bigint;
  credit_account_id: bigint;
  amount_fen: bigint;
  kind: string;
  tenant_id: bigint | null;
  call_id: string | null;
  memo: string | null;
}

function sameContent(t: TransferInput, s: StoredTransfer): boolean {
  return (
    s.debit_account_id === t.debitAccountId &&
    s.credit_account_id === t.creditAccountId &&
    s.amount_fen === t.amountFen &&
    s.kind === t.kind &&
    s.tenant_id === (t.tenantId ?? null) &&
    s.call_id === (t.callId ?? null) &&
    s.memo === (t.memo ?? null)
  );
}

/**
 * Post transfers atomically (all or nothing). A transfer whose idempotencyKey was already posted with identical
 * content is a no-op (its id is returned in `duplicates`); with different content it is refused
 * (LedgerError 'idempotency_conflict'). A batch that would take a must_not_overdraw account below zero is refused
 * (LedgerError 'overdraw'). `posted` and `duplicates` keep input order; `results` has one entry per input.
 *
 * Locking: keys are inserted in sorted order, then account rows are updated in id order, so concurrent batches
 * cannot deadlock; the unique index on idempotency_key makes concurrent posts of one key wait and then see it.
 */
export async function postTransfers(db: Queryable, transfers: TransferInput[]): Promise<PostResult> {
  for (const t of transfers) validateTransfer(t);
  if (transfers.length === 0) return { posted: [], duplicates: [], results: [] };
  if (db instanceof pg.Pool) return withTransaction(db, (c) => postInTransaction(c, transfers));
  try {
    await db.query('savepoint ledger_post');
  } catch (e) {
    // 25P01: the client is not in a transaction: make one, so the batch stays all-or-nothing.
    if ((e as { code?: string }).code !== '25P01') throw e;
    await db.query('begin');
    try {
      const out = await postInTransaction(db, transfers);
      await db.query('commit');
      return out;
    } catch (err) {
      await db.query('rollback').catch(() => undefined);
      throw err;
    }
  }
  try {
    const out = await postInTransaction(db, transfers);
    await db.query('release savepoint ledger_post');
    return out;
  } catch (e) {
    await db.query('rollback to savepoint ledger_post').catch(() => undefined);
    throw e;
  }
}

async function postInTransaction(c: pg.PoolClient, transfers: TransferInput[]): Promise<PostResult> {
  const order = transfers.map((_, i) => i).sort((a, b) => (transfers[a]!.idempotencyKey < transfers[b]!.idempotencyKey ? -1 : 1));
  const col = <T>(f: (t: TransferInput) => T) => order.map((i) => f(transfers[i]!));
  // One statement for the whole batch (the outbox writer posts hundreds at once), rows in key order.
  let inserted: { id: bigint; idempotency_key: string }[];
  try {
    inserted = (
      await c.query<{ id: bigint; idempotency_key: string }>(
        `insert into ledger_transfers (idempotency_key, debit_account_id, credit_account_id, amount_fen, kind, tenant_id, call_id, memo, booked_at)
         select k, d, cr, a, kind, t, call, memo, coalesce(b, now())
           from unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::timestamptz[])
                with ordinality as u(k, d, cr, a, kind, t, call, memo, b, n)
          order by n
         on conflict (idempotency_key) do nothing returning id, idempotency_key`,
        [col((t) => t.idempotencyKey), col((t) => t.debitAccountId.toString()), col((t) => t.creditAccountId.toString()),
         col((t) => t.amountFen.toString()), col((t) => t.kind), col((t) => (t.tenantId == null ? null : t.tenantId.toString())),
         col((t) => t.callId ?? null), col((t) => t.memo ?? null), col((t) => t.bookedAt ?? null)],
      )
    ).rows;
  } catch (e) {
    if ((e as { code?: string }).code === '23503') {
      throw new LedgerError('unknown_account', `transfers ${transfers.map((t) => JSON.stringify(t.idempotencyKey)).join(', ')}: an account or tenant does not exist`, {
        keys: transfers.map((t) => t.idempotencyKey),
      });
    }
    throw e;
  }
  const newIds = new Map(inserted.map((r) => [r.idempotency_key, r.id]));
  const ids: bigint[] = new Array<bigint>(transfers.length);
  const isNew: boolean[] = new Array<boolean>(transfers.length).fill(false);
  const delta = new Map<bigint, { debit: bigint; credit: bigint }>();
  const earlier: number[] = []; // keys that were there before this batch (or twice in it)
  for (const i of order) {
    const t = transfers[i]!;
    const id = newIds.get(t.idempotencyKey);
    if (id === undefined) {
      earlier.push(i);
      continue;
    }
    newIds.delete(t.idempotencyKey); // the same key again in this batch compares with this row below
    ids[i] = id;
    isNew[i] = true;
    for (const [acct, side] of [[t.debitAccountId, 'debit'], [t.creditAccountId, 'credit']] as const) {
      const d = delta.get(acct) ?? { debit: 0n, credit: 0n };
      d[side] += t.amountFen;
      delta.set(acct, d);
    }
  }
  if (earlier.length > 0) {
    const prior = new Map(
      (
        await c.query<StoredTransfer & { idempotency_key: string }>(
          `select id, idempotency_key, debit_account_id, credit_account_id, amount_fen, kind, tenant_id, call_id, memo
             from ledger_transfers where idempotency_key = any($1::text[])`,
          [earlier.map((i) => transfers[i]!.idempotencyKey)],
        )
      ).rows.map((r) => [r.idempotency_key, r]),
    );
    for (const i of earlier) {
      const t = transfers[i]!;
      const p = prior.get(t.idempotencyKey);
      if (!p) throw new Error(`ledger: transfer ${t.idempotencyKey} conflicted but cannot be read`);
      if (!sameContent(t, p)) {
        throw new LedgerError('idempotency_conflict', `idempotency key ${JSON.stringify(t.idempotencyKey)} was already used for a different transfer (id ${p.id})`, {
          existingId: p.id,
        });
      }
      ids[i] = p.id;
    }
  }
  for (const acct of [...delta.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const d = delta.get(acct)!;
    const r = await c.query<{ id: bigint }>(
      `update ledger_accounts set debits_posted = debits_posted + $2, credits_posted = credits_posted + $3
        where id = $1 and (not must_not_overdraw or credits_posted + $3 - debits_posted - $2 >= 0)
        returning id`,
      [acct.toString(), d.debit.toString(), d.credit.toString()],
    );
    if (r.rowCount === 1) continue;
    const acc = (await c.query<{ code: string; balance: bigint }>('select code, credits_posted - debits_posted as balance from ledger_accounts where id = $1', [acct.toString()])).rows[0];
    if (!acc) throw new LedgerError('unknown_account', `ledger account ${acct} does not exist`, { accountId: acct });
    throw new LedgerError('overdraw', `account ${acc.code} has ${acc.balance} fen; this batch would debit ${d.debit - d.credit} fen net`, {
      accountId: acct, balanceFen: acc.balance, netDebitFen: d.debit - d.credit,
    });
  }
  return {
    posted: ids.filter((_, i) => isNew[i]),
    duplicates: ids.filter((_, i) => !isNew[i]),
    results: ids.map((id, i) => ({ id, duplicate: !isNew[i] })),
  };
}

async function getOrCreateAccount(
  db: Queryable,
  a: { code: string; kind: string; tenantId: bigint | null; bucketId: bigint | null; mustNotOverdraw: boolean },
): Promise<bigint> {
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

/** The account of a system party (cash, revenue, ...), created on first use. */
export async function systemAccount(db: Queryable, code: SystemAccountCode): Promise<bigint> {
  const kind = SYSTEM_ACCOUNT_KIND[code];
  if (!kind) throw new LedgerError('unknown_account', `unknown system account ${JSON.stringify(code)}`);
  return getOrCreateAccount(db, { code, kind, tenantId: null, bucketId: null, mustNotOverdraw: false });
}

/** The ledger account of a balance bucket (code tenant:<t>:bucket:<b>, never overdrawn), created on first use. */
export async function bucketAccount(db: Queryable, bucketId: bigint): Promise<bigint> {
  const b = (await db.query<{ tenant_id: bigint }>('select tenant_id from balance_buckets where id = $1', [bucketId.toString()])).rows[0];
  if (!b) throw new LedgerError('unknown_bucket', `balance bucket ${bucketId} does not exist`, { bucketId });
  return getOrCreateAccount(db, {
    code: `tenant:${b.tenant_id}:bucket:${bucketId}`,
    kind: 'tenant_bucket',
    tenantId: b.tenant_id,
    bucketId,
    mustNotOverdraw: true,
  });
}

/**
 * The tenant's receivable account (code tenant:<t>:receivable, debit-normal): receivables debit it, payments credit
 * it, so its balance is minus what the tenant owes. Created on first use.
 */
export async function tenantReceivableAccount(db: Queryable, tenantId: bigint): Promise<bigint> {
  return getOrCreateAccount(db, { code: `tenant:${tenantId}:receivable`, kind: 'receivable', tenantId, bucketId: null, mustNotOverdraw: false });
}

export interface BucketBalance {
  bucketId: bigint;
  kind: 'paid' | 'gift';
  validFrom: Date;
  expiresAt: Date | null;
  balanceFen: bigint;
}

/** A tenant's buckets with their balances from the ledger (0 for a bucket never credited), oldest first. */
export async function tenantBuckets(db: Queryable, tenantId: bigint): Promise<BucketBalance[]> {
  const { rows } = await db.query<{ id: bigint; kind: 'paid' | 'gift'; valid_from: Date; expires_at: Date | null; balance: bigint }>(
    `select b.id, b.kind, b.valid_from, b.expires_at, coalesce(a.credits_posted - a.debits_posted, 0)::int8 as balance
       from balance_buckets b left join ledger_accounts a on a.bucket_id = b.id
      where b.tenant_id = $1 order by b.id`,
    [tenantId.toString()],
  );
  return rows.map((r) => ({ bucketId: r.id, kind: r.kind, validFrom: r.valid_from, expiresAt: r.expires_at, balanceFen: r.balance }));
}

/** Balance of one account from its posted totals (credits - debits). */
export async function accountBalance(db: Queryable, accountId: bigint): Promise<bigint> {
  const r = (await db.query<{ b: bigint }>('select (credits_posted - debits_posted)::int8 as b from ledger_accounts where id = $1', [accountId.toString()])).rows[0];
  if (!r) throw new LedgerError('unknown_account', `ledger account ${accountId} does not exist`, { accountId });
  return r.b;
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
