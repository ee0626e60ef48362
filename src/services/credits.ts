/**
 * Top-ups (paid credit) and gifts (gift credit, not refundable: contract art. 5.3). Each needs an idempotency key:
 * the same key and request again returns the first result and credits nothing; the same key with another request
 * is an IdempotencyConflictError (HTTP 409). The credit, its audit row and the key record commit together; then
 * Redis follows (applying a credit to Redis is idempotent by transfer id, so a replay also repairs a Redis that
 * missed the first time).
 */
import { topUpKey } from '../ledger/keys.js';
import { recordAudit } from '../store/audit.js';
import { creditTenant, type Credit } from '../tenants/credits.js';
import { syncCredit, type SyncOutcome } from '../tenants/sync.js';
import type { Actor, ServiceDeps } from './context.js';
import { followRedis, requireWriter, resolveTenant, tx } from './common.js';
import { InputError } from './errors.js';
import { checkKey, claimKey, requestHash, saveKey } from './idempotency.js';

interface CreditInput {
  tenant: string | bigint;
  kind: 'paid' | 'gift';
  amountFen: bigint;
  idempotencyKey: string;
  /** default now */
  validFrom?: Date;
  /** default the end of the tenant's service period; never after it (the balance is cleared then, art. 7.2) */
  expiresAt?: Date;
  memo?: string | null;
}

interface CreditOutcome {
  credit: Credit;
  /** true: this key was used before with the same request; nothing was credited now */
  replayed: boolean;
  redis: SyncOutcome;
}

type StoredCredit = Record<keyof Credit, string | boolean | null>;

const fromStored = (s: StoredCredit): Credit => ({
  duplicate: true, transferId: BigInt(s.transferId as string), tenantId: BigInt(s.tenantId as string), bucketId: BigInt(s.bucketId as string),
  kind: s.kind as Credit['kind'], amountFen: BigInt(s.amountFen as string), validFrom: new Date(s.validFrom as string),
  expiresAt: s.expiresAt === null ? null : new Date(s.expiresAt as string),
});

export async function creditBalance(deps: ServiceDeps, actor: Actor, input: CreditInput): Promise<CreditOutcome> {
  requireWriter(actor, input.kind === 'paid' ? 'a top-up' : 'a gift');
  const key = checkKey(input.idempotencyKey);
  if (input.amountFen <= 0n) throw new InputError('amount', 'must be more than 0.00');
  if (input.memo != null && input.memo.length > 200) throw new InputError('memo', 'at most 200 characters');
  const t = await resolveTenant(deps, actor, input.tenant);
  const hash = requestHash({ tenantId: t.id, kind: input.kind, amountFen: input.amountFen, validFrom: input.validFrom ?? null, expiresAt: input.expiresAt ?? null, memo: input.memo ?? null });
  const out = await tx(deps, async (c) => {
    const prior = await claimKey(c, 'credit', key, hash);
    if (prior) return { credit: fromStored(prior.response as StoredCredit), replayed: true };
    if (t.status === 'terminated') throw new InputError('tenant', `tenant ${t.code} is terminated`);
    const validFrom = input.validFrom ?? deps.now();
    const expiresAt = input.expiresAt ?? t.serviceEnd;
    // Credit may not outlive the service period: at its end the balance is cleared (art. 7.2) by bucket expiry.
    if (t.serviceEnd && (!expiresAt || expiresAt.getTime() > t.serviceEnd.getTime())) {
      throw new InputError('expiresAt', `must not be after the service end ${t.serviceEnd.toISOString()}`);
    }
    const credit = await creditTenant(c, {
      tenantId: t.id, kind: input.kind, amountFen: input.amountFen, validFrom, expiresAt, idempotencyKey: topUpKey(key), memo: input.memo ?? null,
    });
    if (!credit.duplicate) {
      await recordAudit(c, { actor, action: input.kind === 'paid' ? 'credit.top-up' : 'credit.gift', targetType: 'bucket', targetId: credit.bucketId, tenantId: t.id, after: credit, detail: { idempotencyKey: key } });
    }
    await saveKey(c, 'credit', key, hash, actor, { status: 201, response: credit });
    return { credit, replayed: credit.duplicate };
  });
  return { ...out, redis: await followRedis(deps, (r) => syncCredit(r, out.credit)) };
}
