/** Real-name numbers: assignment to a tenant and review-state changes (rules in rules.ts, SQL in src/store/numbers.ts). */
import { inTransaction, type Queryable } from '../db/tx.js';
import type { Rent } from '../billing/rent.js';
import { findNumber, insertNumber, lockNumber, updateNumberHolder, updateNumberState, type PhoneNumber } from '../store/numbers.js';
import { nextNumberState, normalizeE164, RuleError, validateRent, type NumberAction } from './rules.js';

/**
 * Give a number to a tenant, pending review. Re-adding a number the tenant already holds updates its rent only;
 * a number held by another tenant (and not reclaimed) is refused (no resale, art. 4.5). A reclaimed number can be
 * given again and restarts review.
 */
interface NewNumber {
  tenantId: bigint;
  e164: string;
  rent: Rent;
  at: Date; // business time it is given to the tenant (rent is owed from this day)
}

export async function addNumber(db: Queryable, n: NewNumber): Promise<PhoneNumber> {
  const e164 = normalizeE164(n.e164);
  validateRent(n.rent);
  return inTransaction(db, async (c) => {
    await lockNumber(c, e164);
    const cur = await findNumber(c, e164, { forUpdate: true });
    if (!cur) return insertNumber(c, { e164, tenantId: n.tenantId, rent: n.rent, heldSince: n.at });
    if (cur.state !== 'reclaimed' && cur.tenantId !== null && cur.tenantId !== n.tenantId) {
      throw new RuleError(`number ${e164} is held by another tenant (id ${cur.tenantId})`);
    }
    const restartReview = cur.state === 'reclaimed';
    const newHolder = restartReview || cur.tenantId !== n.tenantId;
    return updateNumberHolder(c, cur.id, { tenantId: n.tenantId, rent: n.rent, heldSince: newHolder ? n.at : null, restartReview });
  });
}

/** approve / suspend / reclaim a number; an impossible transition is a RuleError naming both states. */
export async function changeNumberState(db: Queryable, e164Input: string, action: NumberAction, reason: string | null): Promise<PhoneNumber> {
  const e164 = normalizeE164(e164Input);
  return inTransaction(db, async (c) => {
    const cur = await findNumber(c, e164, { forUpdate: true });
    if (!cur) throw new RuleError(`no number ${e164}`);
    if (action !== 'reclaim' && cur.tenantId === null) throw new RuleError(`number ${e164} has no holder`);
    return updateNumberState(c, cur.id, nextNumberState(cur.state, action), reason);
  });
}
