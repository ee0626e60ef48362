/**
 * SQL of how contracts ended before their period end (terminations, refunds; migration 014): the termination record
 * (art. 4.6 early termination, art. 5.3 after a carrier outage) and the refund runs of paid balance.
 */
import type { Queryable } from '../db/tx.js';

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

/** A refund run as recorded (its transfers are in the ledger). */
export interface RefundRecord {
  id: bigint;
  tenantId: bigint;
  reason: 'outage';
  requestedAt: Date;
  outage: { from: Date; to: Date | null; workingDays: number; faultReportId: bigint } | null;
  override: string | null;
  actor: string;
}

interface RefundRow {
  id: bigint; tenant_id: bigint; reason: 'outage'; requested_at: Date; outage_from: Date | null; outage_to: Date | null; outage_working_days: number | null;
  fault_report_id: bigint | null; override: string | null; actor: string;
}
const toRefund = (r: RefundRow): RefundRecord => ({
  id: r.id, tenantId: r.tenant_id, reason: r.reason, requestedAt: r.requested_at,
  outage: r.outage_from && r.fault_report_id !== null ? { from: r.outage_from, to: r.outage_to, workingDays: r.outage_working_days ?? 0, faultReportId: r.fault_report_id } : null,
  override: r.override, actor: r.actor,
});

export async function insertRefund(db: Queryable, r: Omit<RefundRecord, 'id'>): Promise<RefundRecord> {
  return toRefund((await db.query<RefundRow>(
    `insert into refunds (tenant_id, reason, requested_at, outage_from, outage_to, outage_working_days, fault_report_id, override, actor)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
    [r.tenantId.toString(), r.reason, r.requestedAt, r.outage?.from ?? null, r.outage?.to ?? null, r.outage?.workingDays ?? null,
     r.outage?.faultReportId.toString() ?? null, r.override, r.actor],
  )).rows[0]!);
}

/** A tenant's refund runs, oldest first. */
export async function refundsOf(db: Queryable, tenantId: bigint): Promise<RefundRecord[]> {
  return (await db.query<RefundRow>('select * from refunds where tenant_id = $1 order by id', [tenantId.toString()])).rows.map(toRefund);
}
