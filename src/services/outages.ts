/**
 * Carrier outages and fault reports (contract art. 5.2, 5.3, 10): the outage log as the operator sees it
 * (`softswitch outage list`), a tenant's fault reports (`softswitch fault report | list`, the API), and the art. 5.3
 * check the outage refund runs (src/services/termination.ts).
 */
import { withTransaction, type Queryable } from '../db/tx.js';
import { carrierOutages, checkOutageRefund, faultReportDeadline, workingDaysTouched, type OutageRefundCheck, type Period } from '../billing/outage.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { recordAudit } from '../store/audit.js';
import { enabledGatewayNames } from '../store/network.js';
import { insertFaultReport, listFaultReportRows, listGatewayOutages, type FaultReport, type GatewayOutage } from '../store/outages.js';
import type { Tenant } from '../store/tenants.js';
import { RuleError } from '../tenants/rules.js';
import { calendarOf, requireStaff, tenantFor } from './common.js';
import { ForbiddenError } from './errors.js';
import type { Actor, ServiceDeps } from './context.js';


// ------------------------------------------------------------------------------------------------ outage log

interface OutageListInput {
  from?: Date;
  to?: Date;
  gateway?: string;
}

interface LoggedPeriod extends Period {
  /** working days the period touched (up to now while it goes on) */
  workingDays: number;
  ongoing: boolean;
}

interface OutageList {
  /** gateway down periods as the health checks saw them */
  gateways: (GatewayOutage & LoggedPeriod)[];
  /** carrier outages: every enabled gateway down at once (what art. 5.3 counts) */
  carrier: LoggedPeriod[];
  enabledGateways: string[];
  at: Date;
}

function logged(p: Period, now: Date, cal: WorkingCalendar): LoggedPeriod {
  return { from: p.from, to: p.to, workingDays: workingDaysTouched(p.from, p.to ?? now, cal), ongoing: p.to === null };
}

/** `softswitch outage list`: gateway down periods and carrier outages overlapping [from, to) (operators only). */
export async function listOutages(deps: ServiceDeps, actor: Actor, input: OutageListInput = {}): Promise<OutageList> {
  requireStaff(actor, 'the carrier outage log');
  const now = deps.now();
  const [cal, rows, gws] = await Promise.all([calendarOf(deps), listGatewayOutages(deps.pool, input), enabledGatewayNames(deps.pool)]);
  // carrier outages from every period (not just the gateway asked for), then cut to the range asked
  const all = input.gateway === undefined ? rows : await listGatewayOutages(deps.pool, { ...input, gateway: undefined });
  const carrier = carrierOutages(all, gws, now).filter((p) => (!input.to || p.from < input.to) && (!input.from || !p.to || p.to > input.from));
  return { gateways: rows.map((r) => ({ ...r, ...logged(r, now, cal) })), carrier: carrier.map((p) => logged(p, now, cal)), enabledGateways: gws, at: now };
}

// ------------------------------------------------------------------------------------------------ fault reports

interface FaultReportInput {
  tenant: string; // code or id
  description: string;
  /** when the tenant found the fault (default now) */
  foundAt?: Date;
  /** when the tenant reported it (default now); only an operator taking a report by phone may set it */
  reportedAt?: Date;
}

interface FaultReportOutcome {
  tenant: string;
  report: FaultReport;
}

const MAX_DESCRIPTION = 2000;

/**
 * `softswitch fault report` / the API: record a tenant's fault report (art. 5.2). It is due within 1 working day of
 * finding the fault (the end of the first working day after that day, working-day calendar); a late report is
 * recorded too, flagged `onTime: false`, and does not count towards an outage refund (art. 5.3). A tenant reports
 * for itself, at the time of its request; an operator records one on a tenant's behalf and may give the time the
 * tenant called. Audited.
 */
export async function reportFault(deps: ServiceDeps, actor: Actor, input: FaultReportInput): Promise<FaultReportOutcome> {
  const description = input.description.trim();
  if (description.length === 0 || description.length > MAX_DESCRIPTION) throw new RuleError(`a fault description is 1-${MAX_DESCRIPTION} characters`);
  if (actor.readOnly) throw new ForbiddenError('recording a fault report needs a token that may write; this one is read-only');
  if (actor.kind === 'tenant' && input.reportedAt !== undefined) throw new RuleError('the report time is the time of the request');
  const now = deps.now();
  const reportedAt = input.reportedAt ?? now;
  const foundAt = input.foundAt ?? reportedAt;
  if (reportedAt.getTime() > now.getTime()) throw new RuleError('a fault cannot be reported in the future');
  if (foundAt.getTime() > reportedAt.getTime()) throw new RuleError('a fault is found before it is reported (found-at is after the report time)');
  const cal = await calendarOf(deps);
  return withTransaction(deps.pool, async (c) => {
    const t = await tenantFor(c, actor, input.tenant);
    const report = await insertFaultReport(c, {
      tenantId: t.id, foundAt, reportedAt, reportBy: faultReportDeadline(foundAt, cal), description, reportedBy: `${actor.kind}:${actor.id}`,
    });
    await recordAudit(c, { actor, action: 'fault.report', targetType: 'fault_report', targetId: report.id, tenantId: t.id, after: report });
    return { tenant: t.code, report };
  });
}

/** `softswitch fault list` / the API: fault reports, newest first (a tenant sees only its own). */
export async function listFaultReports(deps: ServiceDeps, actor: Actor, input: { tenant?: string } = {}): Promise<FaultReport[]> {
  if (input.tenant === undefined && actor.kind === 'tenant') return listFaultReportRows(deps.pool, actor.tenantId ?? -1n);
  const t = input.tenant === undefined ? null : await tenantFor(deps.pool, actor, input.tenant);
  return listFaultReportRows(deps.pool, t?.id ?? null);
}

// ------------------------------------------------------------------------------------------------ art. 5.3

/** Art. 5.3 for one tenant at `now`, from the outage log and its fault reports (src/billing/outage.ts). */
export async function outageRefundCheck(db: Queryable, t: Tenant, now: Date, cal: WorkingCalendar): Promise<OutageRefundCheck> {
  const [rows, gws, reports] = await Promise.all([
    listGatewayOutages(db, { from: t.serviceStart ?? undefined, to: now }), enabledGatewayNames(db), listFaultReportRows(db, t.id),
  ]);
  return checkOutageRefund({
    outages: carrierOutages(rows, gws, now), reports, serviceStart: t.serviceStart, serviceEnd: t.serviceEnd, now, calendar: cal,
  });
}
