/** Real-name numbers in PostgreSQL: assignment to a tenant and review-state changes (rules in rules.ts). */
import type { Queryable } from '../ledger/ledger.js';
import type { Rent } from '../billing/rent.js';
import { nextNumberState, normalizeE164, RuleError, validateRent, type NumberAction, type NumberState } from './rules.js';
import { inTransaction } from './tx.js';

export interface PhoneNumber {
  id: bigint;
  e164: string;
  tenantId: bigint | null;
  rent: Rent; // per period, billed in advance (src/billing/rent.ts)
  heldSince: Date | null; // when the current holder got it: the pro-rata base of its first rent period
  state: NumberState;
  stateReason: string | null;
  reviewedAt: Date | null;
}

interface Row {
  id: bigint;
  e164: string;
  tenant_id: bigint | null;
  rent_fen: bigint;
  rent_period: Rent['period'];
  held_since: Date | null;
  state: NumberState;
  state_reason: string | null;
  reviewed_at: Date | null;
}
const COLUMNS = 'id, e164, tenant_id, rent_fen, rent_period, held_since, state, state_reason, reviewed_at';
const toNumber = (r: Row): PhoneNumber => ({
  id: r.id, e164: r.e164, tenantId: r.tenant_id, rent: { amountFen: r.rent_fen, period: r.rent_period }, heldSince: r.held_since, state: r.state,
  stateReason: r.state_reason, reviewedAt: r.reviewed_at,
});

/**
 * Give a number to a tenant, pending review. Re-adding a number the tenant already holds updates its rent only;
 * a number held by another tenant (and not reclaimed) is refused (no resale, art. 4.5). A reclaimed number can be
 * given again and restarts review.
 */
export interface NewNumber {
  tenantId: bigint;
  e164: string;
  rent: Rent;
  at: Date; // business time it is given to the tenant (rent is owed from this day)
}

export async function addNumber(db: Queryable, n: NewNumber): Promise<PhoneNumber> {
  const e164 = normalizeE164(n.e164);
  validateRent(n.rent);
  return inTransaction(db, (c) => addLocked(c, e164, n));
}

async function addLocked(db: Queryable, e164: string, n: NewNumber): Promise<PhoneNumber> {
  // a concurrent first insert of the same number waits here and then sees the row (unique e164)
  await db.query('select pg_advisory_xact_lock(hashtextextended($1, 1))', [e164]);
  const cur = (await db.query<Row>(`select ${COLUMNS} from numbers where e164 = $1 for update`, [e164])).rows[0];
  if (!cur) {
    const r = await db.query<Row>(`insert into numbers (e164, tenant_id, rent_fen, rent_period, held_since) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`, [
      e164, n.tenantId.toString(), n.rent.amountFen.toString(), n.rent.period, n.at,
    ]);
    return toNumber(r.rows[0]!);
  }
  if (cur.state !== 'reclaimed' && cur.tenant_id !== null && cur.tenant_id !== n.tenantId) {
    throw new RuleError(`number ${e164} is held by another tenant (id ${cur.tenant_id})`);
  }
  const restart = cur.state === 'reclaimed';
  const newHolder = restart || cur.tenant_id !== n.tenantId;
  const r = await db.query<Row>(
    `update numbers set tenant_id = $2, rent_fen = $3, rent_period = $4, updated_at = now()
       ${newHolder ? ', held_since = $5' : ''}
       ${restart ? ", state = 'pending_review', state_reason = null, reviewed_at = null" : ''}
     where id = $1 returning ${COLUMNS}`,
    [cur.id.toString(), n.tenantId.toString(), n.rent.amountFen.toString(), n.rent.period, ...(newHolder ? [n.at] : [])],
  );
  return toNumber(r.rows[0]!);
}

/** approve / suspend / reclaim a number; an impossible transition is a RuleError naming both states. */
export async function changeNumberState(db: Queryable, e164Input: string, action: NumberAction, reason: string | null): Promise<PhoneNumber> {
  const e164 = normalizeE164(e164Input);
  return inTransaction(db, (c) => changeLocked(c, e164, action, reason));
}

async function changeLocked(db: Queryable, e164: string, action: NumberAction, reason: string | null): Promise<PhoneNumber> {
  const cur = (await db.query<Row>(`select ${COLUMNS} from numbers where e164 = $1 for update`, [e164])).rows[0];
  if (!cur) throw new RuleError(`no number ${e164}`);
  if (action !== 'reclaim' && cur.tenant_id === null) throw new RuleError(`number ${e164} has no holder`);
  const to = nextNumberState(cur.state, action);
  const r = await db.query<Row>(
    `update numbers set state = $2, state_reason = $3, updated_at = now(),
            reviewed_at = case when $2 in ('approved', 'rejected') then now() else reviewed_at end
      where id = $1 returning ${COLUMNS}`,
    [cur.id.toString(), to, reason],
  );
  return toNumber(r.rows[0]!);
}

/** One number by its E.164 form, or null. */
export async function findNumber(db: Queryable, e164: string): Promise<PhoneNumber | null> {
  const r = await db.query<Row>(`select ${COLUMNS} from numbers where e164 = $1`, [e164]);
  return r.rows[0] ? toNumber(r.rows[0]) : null;
}

export async function listNumbers(db: Queryable, tenantId?: bigint): Promise<PhoneNumber[]> {
  const r = tenantId === undefined
    ? await db.query<Row>(`select ${COLUMNS} from numbers order by id`)
    : await db.query<Row>(`select ${COLUMNS} from numbers where tenant_id = $1 order by id`, [tenantId.toString()]);
  return r.rows.map(toNumber);
}
