/**
 * SQL of CDRs (cdrs, partitioned by month): the outbox writer's multi-row insert and month partitions, and the
 * keyset-paged reads of the CDR listing and export.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';
import type { CdrRecord } from '../cdr/types.js';

/** The month partition of an instant (and the next months), made if missing (DDL: outside event transactions). */
export async function ensureCdrPartition(pool: Pool, at: string): Promise<void> {
  await pool.query('select ensure_cdr_partitions($1::timestamptz, 1)', [at]);
}

/** This month's partition and the next two: at `at`, or by PostgreSQL's clock when not given. */
export async function ensureCdrPartitions(db: Queryable, at?: Date): Promise<void> {
  if (at === undefined) await db.query('select ensure_cdr_partitions(now(), 3)');
  else await db.query('select ensure_cdr_partitions($1, 3)', [at]);
}

const CDR_COLUMNS = [
  'call_id', 'invite_at', 'tenant_id', 'a_call_id', 'b_call_id', 'caller', 'callee', 'ingress_trunk', 'gateway',
  'ring_at', 'answer_at', 'end_at', 'billable_seconds', 'duration_ms', 'rate_plan_id', 'rate_prefix', 'price_per_minute',
  'initial_increment', 'subsequent_increment', 'connect_fee', 'minimum_seconds', 'rounding', 'charge_fen', 'sip_status',
  'result', 'reject_reason', 'disconnect_side', 'disconnect_reason', 'instance_id',
] as const;
// one multi-row insert per batch: each column is an array, element types as in cdrs
const CDR_TYPES = [
  'text', 'timestamptz', 'int8', 'text', 'text', 'text', 'text', 'text', 'text',
  'timestamptz', 'timestamptz', 'timestamptz', 'int4', 'int8', 'int8', 'text', 'numeric',
  'int4', 'int4', 'numeric', 'int4', 'text', 'int8', 'int4',
  'text', 'text', 'text', 'text', 'text',
] as const;
const CDR_INSERT = `insert into cdrs (${CDR_COLUMNS.join(', ')}) select * from unnest(${CDR_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;

const ts = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function cdrValues(c: CdrRecord): unknown[] {
  const r = c.rate;
  return [
    c.callId, ts(c.inviteAt), c.tenantId, c.aCallId, c.bCallId, c.caller, c.callee, c.ingressTrunk, c.gateway,
    ts(c.ringAt), ts(c.answerAt), ts(c.endAt), c.billableSeconds, String(c.durationMs), r?.ratePlanId ?? null, r?.prefix ?? null,
    r?.pricePerMinute ?? null, r?.initialIncrement ?? null, r?.subsequentIncrement ?? null, r?.connectFee ?? null,
    r?.minimumSeconds ?? null, r?.rounding ?? null, c.chargeFen, c.sipStatus, c.result, c.rejectReason, c.disconnectSide,
    c.disconnectReason, c.instanceId,
  ];
}

/** Insert CDRs in one statement (the caller's transaction). */
export async function insertCdrs(c: PoolClient, cdrs: CdrRecord[]): Promise<void> {
  const rows = cdrs.map(cdrValues);
  await c.query(CDR_INSERT, CDR_COLUMNS.map((_, col) => rows.map((r) => r[col])));
}

/** Which CDRs a listing or export reads (validated by src/services/cdrs.ts). */
export interface CdrQuery {
  tenantId: bigint | null;
  from?: Date;
  to?: Date;
  result?: string;
  /** E.164 prefix the called number starts with */
  calleePrefix?: string;
  /** the calling number in E.164 */
  caller?: string;
}

function whereOf(q: CdrQuery): { sql: string[]; params: unknown[] } {
  const w = { sql: [] as string[], params: [] as unknown[] };
  const add = (cond: string, v: unknown) => {
    w.params.push(v);
    w.sql.push(cond.replace('?', `$${w.params.length}`));
  };
  if (q.tenantId !== null) add('tenant_id = ?', q.tenantId.toString());
  if (q.from) add('invite_at >= ?', q.from);
  if (q.to) add('invite_at < ?', q.to);
  if (q.result) add('result = ?', q.result);
  if (q.calleePrefix !== undefined) add(`starts_with(callee, ?)`, q.calleePrefix);
  if (q.caller !== undefined) add('caller = ?', q.caller);
  return w;
}

/** A CDR row of the listing; inviteKey: invite_at as microsecond ISO text (a cursor that loses no precision). */
interface CdrListRow {
  callId: string; inviteAt: Date; inviteKey: string; ringAt: Date | null; answerAt: Date | null; endAt: Date; caller: string; callee: string;
  result: string; sipStatus: number; rejectReason: string | null; billableSeconds: number; durationMs: bigint; ratePrefix: string | null;
  pricePerMinute: string | null; chargeFen: bigint; disconnectSide: string | null; disconnectReason: string | null;
  aCallId: string; bCallId: string | null; ingressTrunk: string | null; gateway: string | null; instanceId: string | null;
}

/** Up to `limit` CDRs newest first, after the (invite_at, call_id) cursor when given. */
export async function cdrPage(db: Queryable, q: CdrQuery, limit: number, after?: { inviteAt: string; callId: string }): Promise<CdrListRow[]> {
  const w = whereOf(q);
  if (after) {
    w.params.push(after.inviteAt, after.callId);
    w.sql.push(`(invite_at, call_id) < ($${w.params.length - 1}::timestamptz, $${w.params.length}::text)`);
  }
  w.params.push(limit);
  const r = await db.query(
    `select call_id, invite_at, to_char(invite_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as invite_key,
            ring_at, answer_at, end_at, caller, callee, result, sip_status, reject_reason, billable_seconds, duration_ms,
            rate_prefix, price_per_minute::text as price_per_minute, charge_fen, disconnect_side, disconnect_reason,
            a_call_id, b_call_id, ingress_trunk, gateway, instance_id
       from cdrs where ${w.sql.join(' and ') || 'true'}
      order by invite_at desc, call_id desc
      limit $${w.params.length}`,
    w.params,
  );
  return r.rows.map((x) => ({
    callId: x.call_id, inviteAt: x.invite_at, inviteKey: x.invite_key, ringAt: x.ring_at, answerAt: x.answer_at, endAt: x.end_at, caller: x.caller,
    callee: x.callee, result: x.result, sipStatus: x.sip_status, rejectReason: x.reject_reason, billableSeconds: x.billable_seconds,
    durationMs: x.duration_ms, ratePrefix: x.rate_prefix, pricePerMinute: x.price_per_minute, chargeFen: x.charge_fen, disconnectSide: x.disconnect_side,
    disconnectReason: x.disconnect_reason, aCallId: x.a_call_id, bCallId: x.b_call_id, ingressTrunk: x.ingress_trunk, gateway: x.gateway, instanceId: x.instance_id,
  }));
}

/**
 * At most `limit` CDRs (the columns named, as stored) after the (invite_at, call_id) key `after`, oldest or newest
 * first: the keyset batches of an export of any size.
 */
export async function cdrBatch(
  db: Queryable, q: CdrQuery, cols: readonly string[], order: 'asc' | 'desc', after: [Date | string, string], limit: number,
): Promise<Record<string, unknown>[]> {
  const w = whereOf(q);
  const k = w.params.length;
  const { rows } = await db.query<Record<string, unknown>>(
    `select ${cols.join(', ')} from cdrs
      where ${[...w.sql, `(invite_at, call_id) ${order === 'asc' ? '>' : '<'} ($${k + 1}, $${k + 2})`].join(' and ')}
      order by invite_at ${order}, call_id ${order} limit ${limit}`,
    [...w.params, after[0], after[1]],
  );
  return rows;
}
