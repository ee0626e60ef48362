/**
 * How a contract ended before its period end (migration 014): the termination record (art. 4.6 early termination by
 * the tenant, or art. 5.3 after a carrier outage) and the refund runs of paid balance. The refund money itself is in
 * the ledger (kind 'refund', key refund:<refundId>:<bucketId>), posted from the charging engine's outbox event.
 */
import type { Queryable } from '../ledger/ledger.js';

export interface Termination {
  id: bigint;
  tenantId: bigint;
  kind: 'early' | 'outage';
  at: Date;
  orderId: bigint | null;
  contractValueFen: bigint | null;
  feeReceivableId: bigint | null;
  reason: string;
  actor: string;
}

interface TerminationRow {
  id: bigint; tenant_id: bigint; kind: Termination['kind']; at: Date; order_id: bigint | null; contract_value_fen: bigint | null;
  fee_receivable_id: bigint | null; reason: string; actor: string;
}
const T_COLUMNS = 'id, tenant_id, kind, at, order_id, contract_value_fen, fee_receivable_id, reason, actor';
const toTermination = (r: TerminationRow): Termination => ({
  id: r.id, tenantId: r.tenant_id, kind: r.kind, at: r.at, orderId: r.order_id, contractValueFen: r.contract_value_fen,
  feeReceivableId: r.fee_receivable_id, reason: r.reason, actor: r.actor,
});

export async function findTermination(db: Queryable, tenantId: bigint): Promise<Termination | null> {
  const r = (await db.query<TerminationRow>(`select ${T_COLUMNS} from terminations where tenant_id = $1`, [tenantId.toString()])).rows[0];
  return r ? toTermination(r) : null;
}

export async function insertTermination(db: Queryable, t: Omit<Termination, 'id'>): Promise<Termination> {
  const r = await db.query<TerminationRow>(
    `insert into terminations (tenant_id, kind, at, order_id, contract_value_fen, fee_receivable_id, reason, actor)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${T_COLUMNS}`,
    [t.tenantId.toString(), t.kind, t.at, t.orderId?.toString() ?? null, t.contractValueFen?.toString() ?? null, t.feeReceivableId?.toString() ?? null, t.reason, t.actor],
  );
  return toTermination(r.rows[0]!);
}

/** Reclaim every number the tenant still holds (period end, termination): it pays no more rent for them. */
export async function reclaimNumbers(db: Queryable, tenantId: bigint, reason: string): Promise<number> {
  const n = await db.query(`update numbers set state = 'reclaimed', state_reason = $2, updated_at = now() where tenant_id = $1 and state <> 'reclaimed'`, [tenantId.toString(), reason]);
  return n.rowCount ?? 0;
}

export interface Refund {
  id: bigint;
  tenantId: bigint;
  reason: 'outage';
  requestedAt: Date;
  outage: { from: Date; to: Date | null; workingDays: number; faultReportId: bigint } | null;
  override: string | null;
  actor: string;
  /** refund transfers in the ledger so far (bucket → cash); written when the outbox event is */
  transfers: { bucketId: bigint; amountFen: bigint; transferId: bigint; bookedAt: Date }[];
  refundedFen: bigint;
}

interface RefundRow {
  id: bigint; tenant_id: bigint; reason: 'outage'; requested_at: Date; outage_from: Date | null; outage_to: Date | null; outage_working_days: number | null;
  fault_report_id: bigint | null; override: string | null; actor: string;
}

export async function insertRefund(db: Queryable, r: Omit<Refund, 'id' | 'transfers' | 'refundedFen'>): Promise<Refund> {
  const row = (await db.query<RefundRow>(
    `insert into refunds (tenant_id, reason, requested_at, outage_from, outage_to, outage_working_days, fault_report_id, override, actor)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
    [r.tenantId.toString(), r.reason, r.requestedAt, r.outage?.from ?? null, r.outage?.to ?? null, r.outage?.workingDays ?? null,
     r.outage?.faultReportId.toString() ?? null, r.override, r.actor],
  )).rows[0]!;
  return (await withTransfers(db, [row]))[0]!;
}

/** A tenant's refund runs, oldest first, each with its ledger transfers. */
export async function listRefundRows(db: Queryable, tenantId: bigint): Promise<Refund[]> {
  const rows = (await db.query<RefundRow>('select * from refunds where tenant_id = $1 order by id', [tenantId.toString()])).rows;
  return withTransfers(db, rows);
}

async function withTransfers(db: Queryable, rows: RefundRow[]): Promise<Refund[]> {
  if (rows.length === 0) return [];
  const tr = (await db.query<{ key: string; bucket_id: bigint; amount_fen: bigint; id: bigint; booked_at: Date }>(
    `select t.idempotency_key as key, a.bucket_id, t.amount_fen, t.id, t.booked_at
       from ledger_transfers t join ledger_accounts a on a.id = t.debit_account_id
      where t.kind = 'refund' and t.tenant_id = $1 order by t.id`,
    [rows[0]!.tenant_id.toString()],
  )).rows;
  return rows.map((r) => {
    const transfers = tr.filter((t) => t.key.startsWith(`refund:${r.id}:`)).map((t) => ({ bucketId: t.bucket_id, amountFen: t.amount_fen, transferId: t.id, bookedAt: t.booked_at }));
    return {
      id: r.id, tenantId: r.tenant_id, reason: r.reason, requestedAt: r.requested_at,
      outage: r.outage_from && r.fault_report_id !== null ? { from: r.outage_from, to: r.outage_to, workingDays: r.outage_working_days ?? 0, faultReportId: r.fault_report_id } : null,
      override: r.override, actor: r.actor, transfers, refundedFen: transfers.reduce((s, t) => s + t.amountFen, 0n),
    };
  });
}
