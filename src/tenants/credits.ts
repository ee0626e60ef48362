/**
 * Credit to a tenant: a new balance bucket (paid or gift, with its validity) funded by one ledger transfer
 * (cash → bucket for paid credit, gift_funding → bucket for gift). Idempotent by the caller's key: the same key
 * again returns the first credit (duplicate: true) and creates nothing; the same key with another tenant, kind or
 * amount is refused (IdempotencyConflictError).
 */
import { inTransaction, type Queryable } from '../db/tx.js';
import { IdempotencyConflictError } from '../ledger/errors.js';
import { bucketAccount, postTransfers, systemAccount } from '../ledger/ledger.js';
import { creditUnderKey, insertBucket, lockCreditKey } from '../store/buckets.js';
import { transferKeyExists } from '../store/ledger.js';
import { tenantById } from '../store/tenants.js';
import { RuleError } from './rules.js';

interface CreditRequest {
  tenantId: bigint;
  kind: 'paid' | 'gift';
  amountFen: bigint;
  validFrom: Date;
  expiresAt: Date | null;
  idempotencyKey: string; // ledger transfer key (src/ledger/keys.ts: topUpKey, orderPrepaidKey)
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
    await lockCreditKey(c, req.idempotencyKey);
    const prior = await findCredit(c, req.idempotencyKey);
    if (prior) {
      if (prior.tenantId !== req.tenantId || prior.kind !== req.kind || prior.amountFen !== req.amountFen) {
        throw new IdempotencyConflictError(req.idempotencyKey, `idempotency key ${JSON.stringify(req.idempotencyKey)} was already used for another credit (${prior.kind} ${prior.amountFen} fen to tenant ${prior.tenantId})`);
      }
      return prior;
    }
    if (!(await tenantById(c, req.tenantId))) throw new RuleError(`no tenant ${req.tenantId}`);
    const bucketId = await insertBucket(c, { tenantId: req.tenantId, kind: req.kind, sourceOrderId: req.sourceOrderId ?? null, validFrom: req.validFrom, expiresAt: req.expiresAt });
    const from = req.fundingAccountId ?? (await systemAccount(c, req.kind === 'paid' ? 'cash' : 'gift_funding'));
    const to = await bucketAccount(c, bucketId);
    const { posted } = await postTransfers(c, [
      { idempotencyKey: req.idempotencyKey, debitAccountId: from, creditAccountId: to, amountFen: req.amountFen,
        kind: req.kind === 'paid' ? 'top_up' : 'gift', tenantId: req.tenantId, memo: req.memo ?? null, bookedAt: req.bookedAt ?? null },
    ]);
    return { duplicate: false, transferId: posted[0]!, tenantId: req.tenantId, bucketId, kind: req.kind, amountFen: req.amountFen, validFrom: req.validFrom, expiresAt: req.expiresAt };
  });
}

/** The credit made under an idempotency key (duplicate: true), or null; a key used by another kind of transfer is refused. */
export async function findCredit(db: Queryable, key: string): Promise<Credit | null> {
  const p = await creditUnderKey(db, key);
  if (p) return { duplicate: true, ...p };
  if (await transferKeyExists(db, key)) throw new IdempotencyConflictError(key, `idempotency key ${JSON.stringify(key)} is already used by a ledger transfer that is not a credit`);
  return null;
}
