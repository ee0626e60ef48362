/**
 * SQL of the carrier outage log and fault reports (gateway_outages, fault_reports; migration 013, contract art. 10,
 * 5.2). A gateway change is applied idempotently, so the same change written twice, or by two instances, leaves one
 * period: a down opens a period unless one is open; an up closes the open one. Fault reports are immutable.
 */
import type { Queryable } from '../db/tx.js';
import type { GatewayPeriod } from '../billing/outage.js';
import type { GatewayChange } from '../sip/gateways.js';

export async function applyGatewayChange(db: Queryable, c: GatewayChange, instanceId: string): Promise<'opened' | 'closed' | 'unchanged'> {
  if (!c.up) {
    const r = await db.query(
      `insert into gateway_outages (gateway, down_at, down_seen_by) values ($1, $2, $3)
       on conflict (gateway) where up_at is null do nothing`,
      [c.gateway, c.at, instanceId],
    );
    return r.rowCount === 1 ? 'opened' : 'unchanged';
  }
  // an up older than the open period's start (clocks of two instances) leaves it open for a later up to close
  const r = await db.query(
    `update gateway_outages set up_at = $2, up_seen_by = $3 where gateway = $1 and up_at is null and down_at <= $2`,
    [c.gateway, c.at, instanceId],
  );
  return r.rowCount === 1 ? 'closed' : 'unchanged';
}

export interface GatewayOutage extends GatewayPeriod {
  id: bigint;
  downSeenBy: string;
  upSeenBy: string | null;
}

/** Gateway down periods overlapping [from, to) (open ones included), oldest first. */
export async function listGatewayOutages(db: Queryable, range: { from?: Date; to?: Date; gateway?: string } = {}): Promise<GatewayOutage[]> {
  const { rows } = await db.query<{ id: bigint; gateway: string; down_at: Date; up_at: Date | null; down_seen_by: string; up_seen_by: string | null }>(
    `select id, gateway, down_at, up_at, down_seen_by, up_seen_by from gateway_outages
      where ($1::timestamptz is null or up_at is null or up_at > $1)
        and ($2::timestamptz is null or down_at < $2)
        and ($3::text is null or gateway = $3)
      order by down_at, id`,
    [range.from ?? null, range.to ?? null, range.gateway ?? null],
  );
  return rows.map((r) => ({ id: r.id, gateway: r.gateway, from: r.down_at, to: r.up_at, downSeenBy: r.down_seen_by, upSeenBy: r.up_seen_by }));
}

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
