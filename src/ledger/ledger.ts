/**
 * Double-entry ledger on PostgreSQL (tables ledger_accounts, ledger_transfers of 001_init.sql; SQL in
 * src/store/ledger.ts).
 *
 * Conventions (TigerBeetle-style): every transfer debits one account and credits another by a positive amount of
 * fen; an account's balance = credits_posted - debits_posted = the sum of its transfers. Tenant buckets and revenue
 * are credit-normal (a top-up credits the bucket, a call charge debits it); cash, gift funding and receivable
 * run negative (debit-normal) by design. Accounts flagged must_not_overdraw (tenant buckets) can never go below 0.
 *
 * Every function takes a Queryable: a Pool (postTransfers then runs its own transaction) or a PoolClient (its
 * statements run inside the caller's transaction, behind a savepoint so a LedgerError leaves that transaction
 * usable). Keys: src/ledger/keys.ts.
 */
import type { PoolClient } from '../db/pool.js';
import { atomically, type Queryable } from '../db/tx.js';
import { bucketOwner } from '../store/buckets.js';
import { accountBalanceOf, accountState, addToAccount, getOrCreateAccount, insertTransfers, transfersByKey, type NewTransfer, type StoredTransfer } from '../store/ledger.js';
import { IdempotencyConflictError, LedgerError } from './errors.js';

export type TransferKind =
  | 'top_up' | 'gift' | 'call_charge' | 'rental' | 'late_fee' | 'expiry_clear' | 'refund' | 'adjustment' | 'order' | 'payment' | 'early_termination';
const TRANSFER_KINDS: readonly TransferKind[] = [
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

/**
 * A transfer to post. Its bookedAt (business time; statements group by it) is not part of the idempotency
 * comparison: a retry computed at another instant is still the same transfer.
 */
export interface TransferInput extends NewTransfer {
  kind: TransferKind;
}

interface PostResult {
  posted: bigint[];
  duplicates: bigint[];
  results: { id: bigint; duplicate: boolean }[]; // per input transfer, in input order
}

const MAX_KEY_LENGTH = 200;

/** Pure validation of one transfer; throws LedgerError('invalid_transfer') naming the bad field. */
function validateTransfer(t: TransferInput): void {
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

function sameContent(t: TransferInput, s: StoredTransfer): boolean {
  return (
    s.debitAccountId === t.debitAccountId &&
    s.creditAccountId === t.creditAccountId &&
    s.amountFen === t.amountFen &&
    s.kind === t.kind &&
    s.tenantId === (t.tenantId ?? null) &&
    s.callId === (t.callId ?? null) &&
    s.memo === (t.memo ?? null)
  );
}

/**
 * Post transfers atomically (all or nothing). A transfer whose idempotencyKey was already posted with identical
 * content is a no-op (its id is returned in `duplicates`); with different content it is refused
 * (IdempotencyConflictError, a LedgerError of code 'idempotency_conflict'). A batch that would take a must_not_overdraw account below zero is refused
 * (LedgerError 'overdraw'). `posted` and `duplicates` keep input order; `results` has one entry per input.
 *
 * Locking: keys are inserted in sorted order, then account rows are updated in id order, so concurrent batches
 * cannot deadlock; the unique index on idempotency_key makes concurrent posts of one key wait and then see it.
 */
export async function postTransfers(db: Queryable, transfers: TransferInput[]): Promise<PostResult> {
  for (const t of transfers) validateTransfer(t);
  if (transfers.length === 0) return { posted: [], duplicates: [], results: [] };
  return atomically(db, 'ledger_post', (c) => postInTransaction(c, transfers));
}

async function postInTransaction(c: PoolClient, transfers: TransferInput[]): Promise<PostResult> {
  const order = transfers.map((_, i) => i).sort((a, b) => (transfers[a]!.idempotencyKey < transfers[b]!.idempotencyKey ? -1 : 1));
  // One statement for the whole batch (the outbox writer posts hundreds at once), rows in key order.
  const inserted = await insertTransfers(c, order.map((i) => transfers[i]!)).catch((e: unknown) => {
    if ((e as { code?: string }).code !== '23503') throw e;
    throw new LedgerError('unknown_account', `transfers ${transfers.map((t) => JSON.stringify(t.idempotencyKey)).join(', ')}: an account or tenant does not exist`, {
      keys: transfers.map((t) => t.idempotencyKey),
    });
  });
  const newIds = new Map(inserted.map((r) => [r.idempotencyKey, r.id]));
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
  if (earlier.length > 0) await matchEarlier(c, transfers, earlier, ids);
  await applyDeltas(c, delta);
  return {
    posted: ids.filter((_, i) => isNew[i]),
    duplicates: ids.filter((_, i) => !isNew[i]),
    results: ids.map((id, i) => ({ id, duplicate: !isNew[i] })),
  };
}

/** Keys posted before: the same content is that transfer (its id goes into ids); other content is refused. */
async function matchEarlier(c: PoolClient, transfers: TransferInput[], earlier: number[], ids: bigint[]): Promise<void> {
  const prior = await transfersByKey(c, earlier.map((i) => transfers[i]!.idempotencyKey));
  for (const i of earlier) {
    const t = transfers[i]!;
    const p = prior.get(t.idempotencyKey);
    if (!p) throw new Error(`ledger: transfer ${t.idempotencyKey} conflicted but cannot be read`);
    if (!sameContent(t, p)) {
      throw new IdempotencyConflictError(t.idempotencyKey, `idempotency key ${JSON.stringify(t.idempotencyKey)} was already used for a different transfer (id ${p.id})`, {
        existingId: p.id,
      });
    }
    ids[i] = p.id;
  }
}

/** Each account's net change once, in id order (no deadlock between batches); an overdraw refuses the batch. */
async function applyDeltas(c: PoolClient, delta: Map<bigint, { debit: bigint; credit: bigint }>): Promise<void> {
  for (const acct of [...delta.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const d = delta.get(acct)!;
    if (await addToAccount(c, acct, d.debit, d.credit)) continue;
    const acc = await accountState(c, acct);
    if (!acc) throw new LedgerError('unknown_account', `ledger account ${acct} does not exist`, { accountId: acct });
    throw new LedgerError('overdraw', `account ${acc.code} has ${acc.balanceFen} fen; this batch would debit ${d.debit - d.credit} fen net`, {
      accountId: acct, balanceFen: acc.balanceFen, netDebitFen: d.debit - d.credit,
    });
  }
}

/** The account of a system party (cash, revenue, ...), created on first use. */
export async function systemAccount(db: Queryable, code: SystemAccountCode): Promise<bigint> {
  const kind = SYSTEM_ACCOUNT_KIND[code];
  if (!kind) throw new LedgerError('unknown_account', `unknown system account ${JSON.stringify(code)}`);
  return getOrCreateAccount(db, { code, kind, tenantId: null, bucketId: null, mustNotOverdraw: false });
}

/** The ledger account of a balance bucket (code tenant:<t>:bucket:<b>, never overdrawn), created on first use. */
export async function bucketAccount(db: Queryable, bucketId: bigint): Promise<bigint> {
  const tenantId = await bucketOwner(db, bucketId);
  if (tenantId === null) throw new LedgerError('unknown_bucket', `balance bucket ${bucketId} does not exist`, { bucketId });
  return getOrCreateAccount(db, {
    code: `tenant:${tenantId}:bucket:${bucketId}`,
    kind: 'tenant_bucket',
    tenantId,
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

/** Balance of one account from its posted totals (credits - debits). */
export async function accountBalance(db: Queryable, accountId: bigint): Promise<bigint> {
  const b = await accountBalanceOf(db, accountId);
  if (b === null) throw new LedgerError('unknown_account', `ledger account ${accountId} does not exist`, { accountId });
  return b;
}
