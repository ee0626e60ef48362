/**
 * Credit to a tenant: a new balance bucket (paid or gift, with its validity) funded by one ledger transfer
 * (cash → bucket for paid credit, gift_funding → bucket for gift). Idempotent by the caller's key: the same key
 * again returns the first credit (duplicate: true) and creates nothing; the same key with another tenant, kind or
 * amount is refused.
 */
import { bucketAccount, postTransfers, systemAccount, type Queryable } from '../ledger/ledger.js';
import { RuleError } from './rules.js';
import { inTransaction } from './tx.js';

export interface CreditRequest {
  tenantId: bigint;
  kind: 'paid' | 'gift';
  amountFen: bigint;
  validFrom: Date;
  expiresAt: Date | null;
  idempotencyKey: string; // ledger transfer key, e.g. 'topup:<operator key>' or 'order:<orderNo>:prepaid'
  sourceOrderId?: bigint | null;
  memo?: string | null;
  /** where the money comes from; default cash (paid) or gift_funding (gift). A paid order's packages come from
   * prepaid_billed (the receivable its payment settled). */
  fundingAccountId?: bigint;
  bookedAt?: Date | null; // business time of the credit (default now)
}

/** What Redis needs to follow (src/charging/tenant-sync.ts applyCredit). */
export interface Credit {
  duplicate: boolean;
  transferId: bigint;
  tenantId: bigint;
  bucketId: bigint;
  kind: 'paid' | 'gift';
  amountFen: bigint;
  validFrom: Date;
  expiresAt: Date | null;
}

export async function creditTenant(db: Queryable, req: CreditRequest): Promise<Credit> {
  if (req.amountFen <= 0n) throw new RuleError('credit amount must be > 0');
  if (req.expiresAt && req.expiresAt.getTime() <= req.validFrom.getTime()) throw new RuleError('credit expiry must be after its start');
  if (!req.idempotencyKey) throw new RuleError('an idempotency key is required');
  return inTransaction(db, async (c) => {
    // Serialises concurrent credits of one key, so a retry can never create a second bucket.
    await c.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [req.idempotencyKey]);
    const prior = await existingCredit(c, req.idempotencyKey);
    if (prior) {
      if (prior.tenantId !== req.tenantId || prior.kind !== req.kind || prior.amountFen !== req.amountFen) {
        throw new RuleError(`idempotency key ${JSON.stringify(req.idempotencyKey)} was already used for another credit (${prior.kind} ${prior.amountFen} fen to tenant ${prior.tenantId})`);
      }
      return prior;
    }
    const t = await c.query('select 1 from tenants where id = $1', [req.tenantId.toString()]);
    if (t.rowCount !== 1) throw new RuleError(`no tenant ${req.tenantId}`);
    const b = await c.query<{ id: bigint }>(
      `insert into balance_buckets (tenant_id, kind, source_order_id, valid_from, expires_at) values ($1, $2, $3, $4, $5) returning id`,
      [req.tenantId.toString(), req.kind, req.sourceOrderId?.toString() ?? null, req.validFrom, req.expiresAt],
    );
    const bucketId = b.rows[0]!.id;
    const from = req.fundingAccountId ?? (await systemAccount(c, req.kind === 'paid' ? 'cash' : 'gift_funding'));
    const to = await bucketAccount(c, bucketId);
    const { posted } = await postTransfers(c, [
      { idempotencyKey: req.idempotencyKey, debitAccountId: from, creditAccountId: to, amountFen: req.amountFen,
        kind: req.kind === 'paid' ? 'top_up' : 'gift', tenantId: req.tenantId, memo: req.memo ?? null, bookedAt: req.bookedAt ?? null },
    ]);
    return { duplicate: false, transferId: posted[0]!, tenantId: req.tenantId, bucketId, kind: req.kind, amountFen: req.amountFen, validFrom: req.validFrom, expiresAt: req.expiresAt };
  });
}

/** The credit made under an idempotency key, or null. */
export async function findCredit(db: Queryable, key: string): Promise<Credit | null> {
  return existingCredit(db, key);
}

async function existingCredit(c: Queryable, key: string): Promise<Credit | null> {
  const r = await c.query<{ id: bigint; tenant_id: bigint; bucket_id: bigint; kind: 'paid' | 'gift'; amount_fen: bigint; valid_from: Date; expires_at: Date | null }>(
    `select tr.id, b.tenant_id, b.id as bucket_id, b.kind, tr.amount_fen, b.valid_from, b.expires_at
       from ledger_transfers tr join ledger_accounts a on a.id = tr.credit_account_id join balance_buckets b on b.id = a.bucket_id
      where tr.idempotency_key = $1`,
    [key],
  );
  const p = r.rows[0];
  if (!p) {
    const other = await c.query('select 1 from ledger_transfers where idempotency_key = $1', [key]);
    if (other.rowCount) throw new RuleError(`idempotency key ${JSON.stringify(key)} is already used by a ledger transfer that is not a credit`);
    return null;
  }
  return { duplicate: true, transferId: p.id, tenantId: p.tenant_id, bucketId: p.bucket_id, kind: p.kind, amountFen: p.amount_fen, validFrom: p.valid_from, expiresAt: p.expires_at };
}
