/**
 * Real-name numbers (contract art. 4.2-4.3): assignment, documents (references: type, id in the document store,
 * SHA-256 of the file), the review queue, and review decisions (approve / reject / suspend / reclaim with a reason).
 * New documents for a rejected number put it back in review.
 */
import type { Rent } from '../billing/rent.js';
import type { Queryable } from '../db/tx.js';
import { recordAudit } from '../store/audit.js';
import { documentsOf, findNumber, insertDocuments, listNumbers as selectNumbers, type DocumentRecord, type PhoneNumber } from '../store/numbers.js';
import { tenantCodes } from '../store/tenants.js';
import { addNumber as insertNumber, changeNumberState } from '../tenants/numbers.js';
import { DOC_TYPES, normalizeE164, type DocType, type NumberAction, type NumberState } from '../tenants/rules.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, resolveTenant, tx } from './common.js';
import { InputError, NotFoundError } from './errors.js';

export { DOC_TYPES, type DocType };
export type DocumentRef = DocumentRecord;

interface NumberDocument extends DocumentRef {
  id: bigint;
  submittedAt: Date;
}

export interface NumberWithDocs extends PhoneNumber {
  tenantCode: string | null;
  documents: NumberDocument[];
}

function checkDocs(docs: DocumentRef[]): void {
  docs.forEach((d, i) => {
    if (!(DOC_TYPES as readonly string[]).includes(d.docType)) throw new InputError(`documents[${i}].docType`, `allowed ${DOC_TYPES.join(', ')}`);
    if (!/^\S(.{0,198}\S)?$/.test(d.docRef)) throw new InputError(`documents[${i}].docRef`, '1-200 characters, no leading or trailing space');
    if (!/^[0-9a-f]{64}$/.test(d.fileSha256)) throw new InputError(`documents[${i}].fileSha256`, 'the SHA-256 of the file as 64 lowercase hex digits');
  });
}

async function withDocs(db: Queryable, ns: PhoneNumber[]): Promise<NumberWithDocs[]> {
  const docs = await documentsOf(db, ns.map((n) => n.id));
  const codes = await tenantCodes(db, [...new Set(ns.map((n) => n.tenantId).filter((x): x is bigint => x !== null))]);
  return ns.map((n) => ({ ...n, tenantCode: n.tenantId === null ? null : (codes.get(n.tenantId.toString()) ?? null), documents: docs.get(n.id.toString()) ?? [] }));
}

function e164Of(input: string): string {
  try {
    return normalizeE164(input);
  } catch (e) {
    throw new InputError('e164', (e as Error).message);
  }
}

/** A number the actor may see: a tenant actor only its own (anything else is "no number"). */
async function visibleNumber(deps: ServiceDeps, actor: Actor, input: string): Promise<PhoneNumber> {
  const e164 = e164Of(input);
  const n = await findNumber(deps.pool, e164);
  if (!n || (actor.kind === 'tenant' && n.tenantId !== actor.tenantId)) throw new NotFoundError(`no number ${e164}`);
  return n;
}

export async function addNumber(
  deps: ServiceDeps, actor: Actor, input: { tenant: string | bigint; e164: string; rent: Rent; documents?: DocumentRef[] },
): Promise<NumberWithDocs> {
  requireWriter(actor, 'assigning a number');
  const t = await resolveTenant(deps, actor, input.tenant);
  const docs = input.documents ?? [];
  checkDocs(docs);
  const e164 = e164Of(input.e164);
  return tx(deps, async (c) => {
    const cur = await findNumber(c, e164);
    const before = cur ? { tenant_id: cur.tenantId, state: cur.state } : null;
    const n = await insertNumber(c, { tenantId: t.id, e164, rent: input.rent, at: deps.now() });
    await insertDocuments(c, n.id, docs);
    await recordAudit(c, { actor, action: 'number.add', targetType: 'number', targetId: n.e164, tenantId: t.id, before, after: { ...n, documents: docs } });
    return (await withDocs(c, [n]))[0]!;
  });
}

/** Add document references; a rejected number goes back to the review queue. */
export async function addDocuments(deps: ServiceDeps, actor: Actor, e164Input: string, docs: DocumentRef[]): Promise<NumberWithDocs> {
  requireWriter(actor, 'adding number documents');
  if (docs.length === 0) throw new InputError('documents', 'give at least one document');
  checkDocs(docs);
  const cur = await visibleNumber(deps, actor, e164Input);
  return tx(deps, async (c) => {
    const added = await insertDocuments(c, cur.id, docs);
    let n = cur;
    if (added > 0 && cur.state === 'rejected') n = await changeNumberState(c, cur.e164, 'resubmit', 'new documents submitted');
    await recordAudit(c, {
      actor, action: 'number.documents', targetType: 'number', targetId: cur.e164, tenantId: cur.tenantId,
      before: { state: cur.state }, after: { state: n.state }, detail: { added, documents: docs },
    });
    return (await withDocs(c, [n]))[0]!;
  });
}

export type ReviewAction = Exclude<NumberAction, 'resubmit'>;

/** A review decision or a lifecycle step; reject and suspend need a reason. */
export async function reviewNumber(deps: ServiceDeps, actor: Actor, e164Input: string, action: ReviewAction, reason: string | null): Promise<NumberWithDocs> {
  requireWriter(actor, `${action} of a number`);
  if ((action === 'reject' || action === 'suspend') && !reason?.trim()) throw new InputError('reason', `a reason is required to ${action} a number`);
  const cur = await visibleNumber(deps, actor, e164Input);
  return tx(deps, async (c) => {
    const n = await changeNumberState(c, cur.e164, action, reason);
    await recordAudit(c, {
      actor, action: `number.${action}`, targetType: 'number', targetId: cur.e164, tenantId: cur.tenantId,
      before: { state: cur.state, stateReason: cur.stateReason }, after: { state: n.state, stateReason: n.stateReason },
    });
    return (await withDocs(c, [n]))[0]!;
  });
}

export async function listNumbers(deps: ServiceDeps, actor: Actor, filter: { tenant?: string | bigint; state?: NumberState } = {}): Promise<NumberWithDocs[]> {
  let tenantId: bigint | undefined;
  if (filter.tenant !== undefined) tenantId = (await resolveTenant(deps, actor, filter.tenant)).id;
  else if (actor.kind === 'tenant') tenantId = actor.tenantId;
  const ns = (await selectNumbers(deps.pool, tenantId)).filter((n) => filter.state === undefined || n.state === filter.state);
  return withDocs(deps.pool, ns);
}

export async function getNumber(deps: ServiceDeps, actor: Actor, e164: string): Promise<NumberWithDocs> {
  return (await withDocs(deps.pool, [await visibleNumber(deps, actor, e164)]))[0]!;
}

/** The real-name review queue: numbers waiting for a decision, oldest first, with their documents. */
export async function reviewQueue(deps: ServiceDeps, actor: Actor): Promise<NumberWithDocs[]> {
  requireStaff(actor, 'the review queue');
  return listNumbers(deps, actor, { state: 'pending_review' });
}
