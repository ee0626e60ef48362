/** Tenants' fault reports in PostgreSQL (migration 013, contract art. 5.2). Immutable once recorded. */
import type { Queryable } from '../ledger/ledger.js';

export interface FaultReport {
  id: bigint;
  tenantId: bigint;
  foundAt: Date;
  reportedAt: Date;
  /** the art. 5.2 deadline: the end of the first working day after the day the fault was found */
  reportBy: Date;
  onTime: boolean;
  description: string;
  reportedBy: string; // actor kind:id
  createdAt: Date;
}

interface Row {
  id: bigint; tenant_id: bigint; found_at: Date; reported_at: Date; report_by: Date; on_time: boolean; description: string; reported_by: string; created_at: Date;
}
const COLUMNS = 'id, tenant_id, found_at, reported_at, report_by, on_time, description, reported_by, created_at';
const toReport = (r: Row): FaultReport => ({
  id: r.id, tenantId: r.tenant_id, foundAt: r.found_at, reportedAt: r.reported_at, reportBy: r.report_by, onTime: r.on_time,
  description: r.description, reportedBy: r.reported_by, createdAt: r.created_at,
});

export async function insertFaultReport(db: Queryable, r: Omit<FaultReport, 'id' | 'createdAt' | 'onTime'>): Promise<FaultReport> {
  const { rows } = await db.query<Row>(
    `insert into fault_reports (tenant_id, found_at, reported_at, report_by, on_time, description, reported_by)
     values ($1, $2, $3, $4, $3::timestamptz <= $4::timestamptz, $5, $6) returning ${COLUMNS}`,
    [r.tenantId.toString(), r.foundAt, r.reportedAt, r.reportBy, r.description, r.reportedBy],
  );
  return toReport(rows[0]!);
}

/** Fault reports, newest first: of one tenant, or of all. */
export async function listFaultReportRows(db: Queryable, tenantId: bigint | null): Promise<FaultReport[]> {
  const { rows } = await db.query<Row>(
    `select ${COLUMNS} from fault_reports where ($1::int8 is null or tenant_id = $1) order by found_at desc, id desc`,
    [tenantId?.toString() ?? null],
  );
  return rows.map(toReport);
}
