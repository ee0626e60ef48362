/** Real-name numbers in PostgreSQL: assignment to a tenant and review-state changes (rules in rules.ts). */
import type { Queryable } from '../ledger/ledger.js';
import { nextNumberState, normalizeE164, RuleError, type NumberAction, type NumberState } from './rules.js';
import { inTransaction } from './tx.js';

export interface PhoneNumber {
  id: bigint;
  e164: string;
  tenantId: bigint | null;
  monthlyRentFen: bigint;
  state: NumberState;
  stateReason: string | null;
  reviewedAt: Date | null;
}

interface Row {
  id: bigint;
  e164: string;
  tenant_id: bigint | null;
  monthly_rent_fen: bigint;
  state: NumberState;
  state_reason: string | null;
  reviewed_at: Date | null;
}
const COLUMNS = 'id, e164, tenant_id, monthly_rent_fen, state, state_reason, reviewed_at';
const toNumber = (r: Row): PhoneNumber => ({
  id: r.id, e164: r.e164, tenantId: r.tenant_id, monthlyRentFen: r.monthly_rent_fen, state: r.state, stateReason: r.state_reason, reviewedAt: r.reviewed_at,
});

/**
 * Give a number to a tenant, pending review. Re-adding a number the tenant already holds updates its rent only;
 * a number held by another tenant (and not reclaimed) is refused (no resale, art. 4.5). A reclaimed number can be
 * given again and restarts review.
 */
export async function addNumber(db: Queryable, n: { tenantId: bigint; e164: string; monthlyRentFen: bigint }): Promise<PhoneNumber> {
  const e164 = normalizeE164(n.e164);
  if (n.monthlyRentFen < 0n) throw new RuleError('monthly rent must be >= 0');
  return inTransaction(db, (c) => addLocked(c, e164, n));
}

async function addLocked(db: Queryable, e164: string, n: { tenantId: bigint; monthlyRentFen: bigint }): Promise<PhoneNumber> {
  // a concurrent first insert of the same number waits here and then sees the row (unique e164)
  await db.query('select pg_advisory_xact_lock(hashtextextended($1, 1))', [e164]);
  const cur = (await db.query<Row>(`select ${COLUMNS} from numbers where e164 = $1 for update`, [e164])).rows[0];
  if (!cur) {
    const r = await db.query<Row>(`insert into numbers (e164, tenant_id, monthly_rent_fen) values ($1, $2, $3) returning ${COLUMNS}`, [
      e164, n.tenantId.toString(), n.monthlyRentFen.toString(),
    ]);
    return toNumber(r.rows[0]!);
  }
  if (cur.state !== 'reclaimed' && cur.tenant_id !== null && cur.tenant_id !== n.tenantId) {
    throw new RuleError(`number ${e164} is held by another tenant (id ${cur.tenant_id})`);
  }
  const restart = cur.state === 'reclaimed';
  const r = await db.query<Row>(
    `update numbers set tenant_id = $2, monthly_rent_fen = $3, updated_at = now()
       ${restart ? ", state = 'pending_review', state_reason = null, reviewed_at = null" : ''}
     where id = $1 returning ${COLUMNS}`,
    [cur.id.toString(), n.tenantId.toString(), n.monthlyRentFen.toString()],
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
            reviewed_at = case when $2 = 'approved' then now() else reviewed_at end
      where id = $1 returning ${COLUMNS}`,
    [cur.id.toString(), to, reason],
  );
  return toNumber(r.rows[0]!);
}

export async function listNumbers(db: Queryable, tenantId?: bigint): Promise<PhoneNumber[]> {
  const r = tenantId === undefined
    ? await db.query<Row>(`select ${COLUMNS} from numbers order by id`)
    : await db.query<Row>(`select ${COLUMNS} from numbers where tenant_id = $1 order by id`, [tenantId.toString()]);
  return r.rows.map(toNumber);
}
