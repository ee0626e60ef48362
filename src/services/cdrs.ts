/**
 * CDRs as tenants and operators read them: a keyset-paged listing, newest first, within [from, to) by INVITE time
 * (pages stay stable while new CDRs arrive, deep pages cost the same as the first), and a streamed export (CSV or
 * JSON lines, oldest first, any size). Tenants see their own calls without the carrier-side columns.
 */
import { csvLine } from '../rates-import/import.js';
import { e164Prefix, toE164 } from '../sip/normalize.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, resolveTenant } from './common.js';
import { InputError } from './errors.js';

export const CDR_RESULTS = ['answered', 'failed', 'canceled', 'rejected'] as const;
export type CdrResult = (typeof CDR_RESULTS)[number];

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
export const OPERATOR_CDR_COLUMNS = ['call_id', 'invite_at', 'tenant_id', 'caller', 'callee', 'result', 'sip_status', 'answer_at', 'end_at',
  'billable_seconds', 'duration_ms', 'rate_prefix', 'price_per_minute', 'charge_fen', 'reject_reason', 'disconnect_side', 'disconnect_reason',
  'ingress_trunk', 'gateway', 'a_call_id', 'b_call_id', 'ring_at', 'rate_plan_id', 'initial_increment', 'subsequent_increment', 'connect_fee',
  'minimum_seconds', 'rounding', 'instance_id', 'recorded_at'] as const;
const INTERNAL = new Set(['tenant_id', 'ingress_trunk', 'gateway', 'a_call_id', 'b_call_id', 'rate_plan_id', 'instance_id', 'recorded_at']);
export const TENANT_CDR_COLUMNS = OPERATOR_CDR_COLUMNS.filter((c) => !INTERNAL.has(c));

const DAY_MS = 86_400_000;
export const CDR_RANGE_MAX_DAYS = 366;

interface Where {
  sql: string[];
  params: unknown[];
}

async function whereOf(deps: ServiceDeps, actor: Actor, f: CdrFilter, requireRange: boolean): Promise<Where & { tenantId: bigint | null }> {
  const w: Where = { sql: [], params: [] };
  const add = (cond: string, v: unknown) => {
    w.params.push(v);
    w.sql.push(cond.replace('?', `$${w.params.length}`));
  };
  let tenantId: bigint | null = null;
  if (f.tenant !== undefined) tenantId = (await resolveTenant(deps, actor, f.tenant)).id;
  else if (actor.kind === 'tenant') tenantId = actor.tenantId!;
  else requireStaff(actor, 'CDRs of every tenant');
  if (tenantId !== null) add('tenant_id = ?', tenantId.toString());
  if (f.from && f.to && f.from >= f.to) throw new InputError('from', 'must be earlier than to');
  if (requireRange && f.from && f.to && f.to.getTime() - f.from.getTime() > CDR_RANGE_MAX_DAYS * DAY_MS) throw new InputError('to', `from..to spans more than ${CDR_RANGE_MAX_DAYS} days`);
  if (f.from) add('invite_at >= ?', f.from);
  if (f.to) add('invite_at < ?', f.to);
  if (f.result) add('result = ?', f.result);
  if (f.callee !== undefined) {
    if (!/^\+?[0-9]{1,20}$/.test(f.callee)) throw new InputError('callee', '1-20 digits (optionally after +) the called number starts with');
    add(`starts_with(callee, ?)`, e164Prefix(f.callee));
  }
  if (f.caller !== undefined) {
    const caller = toE164(f.caller);
    if (!caller) throw new InputError('caller', 'a calling number: +86…, 0086…, 0<area>… or a mobile');
    add('caller = ?', caller);
  }
  return { ...w, tenantId };
}

/** One page of CDRs, newest first; `next` continues after the last row. */
export async function listCdrs(
  deps: ServiceDeps, actor: Actor, f: CdrFilter & { from: Date; to: Date; limit: number; after?: CdrCursor },
): Promise<{ tenantId: bigint | null; rows: CdrRow[]; next: CdrCursor | null }> {
  const w = await whereOf(deps, actor, f, true);
  if (f.after) {
    w.params.push(f.after.inviteAt, f.after.callId);
    w.sql.push(`(invite_at, call_id) < ($${w.params.length - 1}::timestamptz, $${w.params.length}::text)`);
  }
  w.params.push(f.limit + 1);
  const r = await deps.pool.query(
    `select call_id, invite_at, to_char(invite_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as invite_key,
            ring_at, answer_at, end_at, caller, callee, result, sip_status, reject_reason, billable_seconds, duration_ms,
            rate_prefix, price_per_minute::text as price_per_minute, charge_fen, disconnect_side, disconnect_reason,
            a_call_id, b_call_id, ingress_trunk, gateway, instance_id
       from cdrs where ${w.sql.join(' and ') || 'true'}
      order by invite_at desc, call_id desc
      limit $${w.params.length}`,
    w.params,
  );
  const withInternal = actor.kind !== 'tenant';
  const page = r.rows.slice(0, f.limit);
  const last = page[page.length - 1];
  const rows = page.map((x): CdrRow => ({
    callId: x.call_id, inviteAt: x.invite_at, ringAt: x.ring_at, answerAt: x.answer_at, endAt: x.end_at, caller: x.caller, callee: x.callee,
    result: x.result, sipStatus: x.sip_status, rejectReason: x.reject_reason, billableSeconds: x.billable_seconds, durationMs: x.duration_ms,
    ratePrefix: x.rate_prefix, pricePerMinute: x.price_per_minute, chargeFen: x.charge_fen, disconnectSide: x.disconnect_side,
    disconnectReason: x.disconnect_reason,
    ...(withInternal ? { internal: { aCallId: x.a_call_id, bCallId: x.b_call_id, ingressTrunk: x.ingress_trunk, gateway: x.gateway, instanceId: x.instance_id } } : {}),
  }));
  return { tenantId: w.tenantId, rows, next: r.rows.length > f.limit && last ? { inviteAt: last.invite_key, callId: last.call_id } : null };
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
  const w = await whereOf(deps, actor, f, false);
  const cols = actor.kind === 'tenant' ? TENANT_CDR_COLUMNS : OPERATOR_CDR_COLUMNS;
  let after: [Date | string, string] = order === 'asc' ? ['-infinity', ''] : ['infinity', ''];
  const k = w.params.length;
  let left = limit;
  while (left > 0) {
    const { rows } = await deps.pool.query<Record<string, unknown>>(
      `select ${cols.join(', ')} from cdrs
        where ${[...w.sql, `(invite_at, call_id) ${order === 'asc' ? '>' : '<'} ($${k + 1}, $${k + 2})`].join(' and ')}
        order by invite_at ${order}, call_id ${order} limit ${Math.min(left, 5000)}`,
      [...w.params, after[0], after[1]],
    );
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
