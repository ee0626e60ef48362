/**
 * CDRs as tenants and operators read them: a keyset-paged listing, newest first, within [from, to) by INVITE time
 * (pages stay stable while new CDRs arrive, deep pages cost the same as the first), and a streamed export (CSV or
 * JSON lines, oldest first, any size). Tenants see their own calls without the carrier-side columns.
 */
import { csvLine } from '../rates-import/import.js';
import { e164Prefix, toE164 } from '../sip/normalize.js';
import { cdrBatch, cdrPage, type CdrQuery } from '../store/cdrs.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, resolveTenant } from './common.js';
import { InputError } from './errors.js';

export const CDR_RESULTS = ['answered', 'failed', 'canceled', 'rejected'] as const;
type CdrResult = (typeof CDR_RESULTS)[number];

export interface CdrFilter {
  /** required for a tenant actor (its own); operators may leave it out (every tenant) */
  tenant?: string | bigint;
  from?: Date;
  to?: Date;
  result?: CdrResult;
  /** what the called number starts with, as typed (138…, 0571…, +86…): matched against the stored E.164 form */
  callee?: string;
  /** the calling number (E.164 as stored, e.g. +8657188880000) */
  caller?: string;
}

export interface CdrCursor {
  inviteAt: string; // microsecond ISO text from PostgreSQL, so no precision is lost
  callId: string;
}

export interface CdrRow {
  callId: string;
  inviteAt: Date;
  ringAt: Date | null;
  answerAt: Date | null;
  endAt: Date;
  caller: string;
  callee: string;
  result: string;
  sipStatus: number;
  rejectReason: string | null;
  billableSeconds: number;
  durationMs: bigint;
  ratePrefix: string | null;
  pricePerMinute: string | null; // exact decimal CNY/min
  chargeFen: bigint;
  disconnectSide: string | null;
  disconnectReason: string | null;
  /** carrier-side detail, operators only */
  internal?: { aCallId: string; bCallId: string | null; ingressTrunk: string | null; gateway: string | null; instanceId: string | null };
}

/** Export columns in file order; tenants get them without the carrier-side and internal ones. */
const OPERATOR_CDR_COLUMNS = ['call_id', 'invite_at', 'tenant_id', 'caller', 'callee', 'result', 'sip_status', 'answer_at', 'end_at',
  'billable_seconds', 'duration_ms', 'rate_prefix', 'price_per_minute', 'charge_fen', 'reject_reason', 'disconnect_side', 'disconnect_reason',
  'ingress_trunk', 'gateway', 'a_call_id', 'b_call_id', 'ring_at', 'rate_plan_id', 'initial_increment', 'subsequent_increment', 'connect_fee',
  'minimum_seconds', 'rounding', 'instance_id', 'recorded_at'] as const;
const INTERNAL = new Set(['tenant_id', 'ingress_trunk', 'gateway', 'a_call_id', 'b_call_id', 'rate_plan_id', 'instance_id', 'recorded_at']);
const TENANT_CDR_COLUMNS = OPERATOR_CDR_COLUMNS.filter((c) => !INTERNAL.has(c));

const DAY_MS = 86_400_000;
const CDR_RANGE_MAX_DAYS = 366;

/** The tenant the actor may read, and the filter checked and normalized into a query. */
async function queryOf(deps: ServiceDeps, actor: Actor, f: CdrFilter, requireRange: boolean): Promise<CdrQuery> {
  let tenantId: bigint | null = null;
  if (f.tenant !== undefined) tenantId = (await resolveTenant(deps, actor, f.tenant)).id;
  else if (actor.kind === 'tenant') tenantId = actor.tenantId!;
  else requireStaff(actor, 'CDRs of every tenant');
  if (f.from && f.to && f.from >= f.to) throw new InputError('from', 'must be earlier than to');
  if (requireRange && f.from && f.to && f.to.getTime() - f.from.getTime() > CDR_RANGE_MAX_DAYS * DAY_MS) throw new InputError('to', `from..to spans more than ${CDR_RANGE_MAX_DAYS} days`);
  const q: CdrQuery = { tenantId, ...(f.from ? { from: f.from } : {}), ...(f.to ? { to: f.to } : {}), ...(f.result ? { result: f.result } : {}) };
  if (f.callee !== undefined) {
    if (!/^\+?[0-9]{1,20}$/.test(f.callee)) throw new InputError('callee', '1-20 digits (optionally after +) the called number starts with');
    q.calleePrefix = e164Prefix(f.callee);
  }
  if (f.caller !== undefined) {
    const caller = toE164(f.caller);
    if (!caller) throw new InputError('caller', 'a calling number: +86…, 0086…, 0<area>… or a mobile');
    q.caller = caller;
  }
  return q;
}

/** One page of CDRs, newest first; `next` continues after the last row. */
export async function listCdrs(
  deps: ServiceDeps, actor: Actor, f: CdrFilter & { from: Date; to: Date; limit: number; after?: CdrCursor },
): Promise<{ tenantId: bigint | null; rows: CdrRow[]; next: CdrCursor | null }> {
  const q = await queryOf(deps, actor, f, true);
  const rows = await cdrPage(deps.pool, q, f.limit + 1, f.after);
  const withInternal = actor.kind !== 'tenant';
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    tenantId: q.tenantId,
    rows: page.map(({ inviteKey: _key, aCallId, bCallId, ingressTrunk, gateway, instanceId, ...x }): CdrRow => ({
      ...x, ...(withInternal ? { internal: { aCallId, bCallId, ingressTrunk, gateway, instanceId } } : {}),
    })),
    next: rows.length > f.limit && last ? { inviteAt: last.inviteKey, callId: last.callId } : null,
  };
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** A CDR as a JSON record: ids and fen as strings (exact), times ISO, small integers as numbers. */
function record(cols: readonly string[], r: Record<string, unknown>): Record<string, string | number | null> {
  return Object.fromEntries(cols.map((c) => [c, r[c] === null || r[c] === undefined ? null : typeof r[c] === 'number' ? (r[c] as number) : cell(r[c])]));
}

/** Matching CDRs in keyset batches of at most 5000 (oldest or newest first), so memory stays flat whatever the size. */
async function* batches(deps: ServiceDeps, actor: Actor, f: CdrFilter, order: 'asc' | 'desc', limit: number): AsyncGenerator<Record<string, unknown>[]> {
  const q = await queryOf(deps, actor, f, false);
  const cols = actor.kind === 'tenant' ? TENANT_CDR_COLUMNS : OPERATOR_CDR_COLUMNS;
  let after: [Date | string, string] = order === 'asc' ? ['-infinity', ''] : ['infinity', ''];
  let left = limit;
  while (left > 0) {
    const rows = await cdrBatch(deps.pool, q, cols, order, after, Math.min(left, 5000));
    if (rows.length === 0) return;
    yield rows;
    left -= rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.invite_at as Date, last.call_id as string];
  }
}

/** The newest `limit` CDRs as JSON records (the CLI's `cdr list`). */
export async function recentCdrs(deps: ServiceDeps, actor: Actor, f: CdrFilter, limit: number): Promise<Record<string, string | number | null>[]> {
  const cols = actor.kind === 'tenant' ? TENANT_CDR_COLUMNS : OPERATOR_CDR_COLUMNS;
  const out: Record<string, string | number | null>[] = [];
  for await (const rows of batches(deps, actor, f, 'desc', limit)) out.push(...rows.map((r) => record(cols, r)));
  return out;
}

/**
 * Write every matching CDR, oldest first, through `write`: CSV with a header, or one JSON record per line.
 * Returns the count.
 */
export async function exportCdrs(deps: ServiceDeps, actor: Actor, f: CdrFilter, format: 'csv' | 'json', write: (chunk: string) => Promise<void>): Promise<number> {
  const cols = actor.kind === 'tenant' ? TENANT_CDR_COLUMNS : OPERATOR_CDR_COLUMNS;
  if (format === 'csv') await write(csvLine([...cols]));
  let n = 0;
  for await (const rows of batches(deps, actor, f, 'asc', Number.MAX_SAFE_INTEGER)) {
    await write(rows.map((r) => (format === 'csv' ? csvLine(cols.map((c) => cell(r[c]))) : JSON.stringify(record(cols, r)) + '\n')).join(''));
    n += rows.length;
  }
  return n;
}
