/** SQL of real-name numbers (numbers) and their document references (number_documents). Rules: src/tenants/numbers.ts. */
import type { PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';
import type { Rent } from '../billing/rent.js';
import type { DocType, NumberState } from '../tenants/rules.js';

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

/** Serialises the first insert of a number: a concurrent one waits here and then sees the row (unique e164). */
export async function lockNumber(c: PoolClient, e164: string): Promise<void> {
  await c.query('select pg_advisory_xact_lock(hashtextextended($1, 1))', [e164]);
}

/** One number by its E.164 form, or null; forUpdate locks its row until the caller's transaction ends. */
export async function findNumber(db: Queryable, e164: string, opts: { forUpdate?: boolean } = {}): Promise<PhoneNumber | null> {
  const r = await db.query<Row>(`select ${COLUMNS} from numbers where e164 = $1${opts.forUpdate ? ' for update' : ''}`, [e164]);
  return r.rows[0] ? toNumber(r.rows[0]) : null;
}

export async function listNumbers(db: Queryable, tenantId?: bigint): Promise<PhoneNumber[]> {
  const r = tenantId === undefined
    ? await db.query<Row>(`select ${COLUMNS} from numbers order by id`)
    : await db.query<Row>(`select ${COLUMNS} from numbers where tenant_id = $1 order by id`, [tenantId.toString()]);
  return r.rows.map(toNumber);
}

export async function insertNumber(db: Queryable, n: { e164: string; tenantId: bigint; rent: Rent; heldSince: Date }): Promise<PhoneNumber> {
  const r = await db.query<Row>(`insert into numbers (e164, tenant_id, rent_fen, rent_period, held_since) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`, [
    n.e164, n.tenantId.toString(), n.rent.amountFen.toString(), n.rent.period, n.heldSince,
  ]);
  return toNumber(r.rows[0]!);
}

/**
 * Give a number (again) to a tenant at a rent; `heldSince` set: a new holder from then; `restartReview`: back to
 * pending review (a reclaimed number given again).
 */
export async function updateNumberHolder(
  db: Queryable, id: bigint, n: { tenantId: bigint; rent: Rent; heldSince: Date | null; restartReview: boolean },
): Promise<PhoneNumber> {
  const r = await db.query<Row>(
    `update numbers set tenant_id = $2, rent_fen = $3, rent_period = $4, updated_at = now()
       ${n.heldSince ? ', held_since = $5' : ''}
       ${n.restartReview ? ", state = 'pending_review', state_reason = null, reviewed_at = null" : ''}
     where id = $1 returning ${COLUMNS}`,
    [id.toString(), n.tenantId.toString(), n.rent.amountFen.toString(), n.rent.period, ...(n.heldSince ? [n.heldSince] : [])],
  );
  return toNumber(r.rows[0]!);
}

/** A review-state change; the review time is stamped on approve and reject. */
export async function updateNumberState(db: Queryable, id: bigint, state: NumberState, reason: string | null): Promise<PhoneNumber> {
  const r = await db.query<Row>(
    `update numbers set state = $2, state_reason = $3, updated_at = now(),
            reviewed_at = case when $2 in ('approved', 'rejected') then now() else reviewed_at end
      where id = $1 returning ${COLUMNS}`,
    [id.toString(), state, reason],
  );
  return toNumber(r.rows[0]!);
}

/** Reclaim every number the tenant still holds; returns how many. */
export async function reclaimNumbers(db: Queryable, tenantId: bigint, reason: string): Promise<number> {
  const n = await db.query(`update numbers set state = 'reclaimed', state_reason = $2, updated_at = now() where tenant_id = $1 and state <> 'reclaimed'`, [tenantId.toString(), reason]);
  return n.rowCount ?? 0;
}

export interface DocumentRecord {
  docType: DocType;
  docRef: string;
  fileSha256: string;
}

/** Add document references of a number (one already there is skipped); returns how many were new. */
export async function insertDocuments(c: Queryable, numberId: bigint, docs: DocumentRecord[]): Promise<number> {
  let added = 0;
  for (const d of docs) {
    const r = await c.query(
      `insert into number_documents (number_id, doc_type, doc_ref, file_sha256) values ($1, $2, $3, $4) on conflict do nothing`,
      [numberId.toString(), d.docType, d.docRef, d.fileSha256],
    );
    added += r.rowCount ?? 0;
  }
  return added;
}

/** The documents of numbers, by decimal number id, oldest first. */
export async function documentsOf(db: Queryable, numberIds: bigint[]): Promise<Map<string, (DocumentRecord & { id: bigint; submittedAt: Date })[]>> {
  const out = new Map<string, (DocumentRecord & { id: bigint; submittedAt: Date })[]>();
  if (numberIds.length === 0) return out;
  const r = await db.query<{ id: bigint; number_id: bigint; doc_type: DocType; doc_ref: string; file_sha256: string; submitted_at: Date }>(
    `select id, number_id, doc_type, doc_ref, file_sha256, submitted_at from number_documents where number_id = any($1::int8[]) order by id`,
    [numberIds.map(String)],
  );
  for (const d of r.rows) {
    const k = d.number_id.toString();
    out.set(k, [...(out.get(k) ?? []), { id: d.id, docType: d.doc_type, docRef: d.doc_ref, fileSha256: d.file_sha256, submittedAt: d.submitted_at }]);
  }
  return out;
}
