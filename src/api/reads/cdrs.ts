/**
 * Paged CDR listing of one tenant, newest first, within [from, to) by INVITE time. Keyset paging on
 * (invite_at, call_id), so pages stay stable while new CDRs arrive and deep pages cost the same as the first.
 */
import type { CdrCursor } from '../params.js';
import type { Db } from '../tokens.js';

export interface CdrQuery {
  tenantId: bigint;
  from: Date;
  to: Date;
  limit: number;
  result?: 'answered' | 'failed' | 'canceled' | 'rejected';
  after?: CdrCursor;
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

export async function listCdrs(db: Db, q: CdrQuery, withInternal: boolean): Promise<{ rows: CdrRow[]; next: CdrCursor | null }> {
  const r = await db.query(
    `select call_id, invite_at, to_char(invite_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as invite_key,
            ring_at, answer_at, end_at, caller, callee, result, sip_status, reject_reason, billable_seconds, duration_ms,
            rate_prefix, price_per_minute::text as price_per_minute, charge_fen, disconnect_side, disconnect_reason,
            a_call_id, b_call_id, ingress_trunk, gateway, instance_id
       from cdrs
      where tenant_id = $1 and invite_at >= $2 and invite_at < $3
        and ($4::text is null or result = $4)
        and ($5::timestamptz is null or (invite_at, call_id) < ($5::timestamptz, $6::text))
      order by invite_at desc, call_id desc
      limit $7`,
    [q.tenantId, q.from, q.to, q.result ?? null, q.after?.inviteAt ?? null, q.after?.callId ?? null, q.limit + 1],
  );
  const page = r.rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const rows = page.map(
    (x): CdrRow => ({
      callId: x.call_id,
      inviteAt: x.invite_at,
      ringAt: x.ring_at,
      answerAt: x.answer_at,
      endAt: x.end_at,
      caller: x.caller,
      callee: x.callee,
      result: x.result,
      sipStatus: x.sip_status,
      rejectReason: x.reject_reason,
      billableSeconds: x.billable_seconds,
      durationMs: x.duration_ms,
      ratePrefix: x.rate_prefix,
      pricePerMinute: x.price_per_minute,
      chargeFen: x.charge_fen,
      disconnectSide: x.disconnect_side,
      disconnectReason: x.disconnect_reason,
      ...(withInternal
        ? { internal: { aCallId: x.a_call_id, bCallId: x.b_call_id, ingressTrunk: x.ingress_trunk, gateway: x.gateway, instanceId: x.instance_id } }
        : {}),
    }),
  );
  return { rows, next: r.rows.length > q.limit && last ? { inviteAt: last.invite_key, callId: last.call_id } : null };
}
