/**
 * Rules of faults and carrier outages (no I/O): the fault report term (art. 5.2), carrier outages from the gateway
 * down periods of the outage log (art. 10), and when an outage entitles a tenant to terminate and get its paid
 * balance back (art. 5.3). Every rule is stated in docs/billing.md.
 */
import type { WorkingCalendar } from '../calendar/calendar.js';
import { addDays, dayOf, startOfDay } from '../calendar/zone.js';

/** Art. 5.2: a fault is reported within 1 working day of finding it. */
const FAULT_REPORT_WORKING_DAYS = 1;
/** Art. 5.3: a service interruption of MORE than 15 consecutive working days lets the tenant terminate with a refund. */
const OUTAGE_REFUND_WORKING_DAYS = 15;

/**
 * The art. 5.2 deadline of a fault found at `foundAt`: the end of the first working day after the day it was found
 * (that day not counted, as every working-day term here). Found Friday 18:00 → report by the end of Monday.
 */
export function faultReportDeadline(foundAt: Date, cal: WorkingCalendar): Date {
  return cal.termEnd(foundAt, FAULT_REPORT_WORKING_DAYS);
}

export interface Period {
  from: Date;
  to: Date | null; // null: still going on
}

export interface GatewayPeriod extends Period {
  gateway: string;
}

const ms = (d: Date | null, open: number): number => (d ? d.getTime() : open);

/**
 * Carrier outages: the periods during which EVERY one of `gateways` was down (a call can go out while one gateway
 * answers, so one gateway down is not an outage of the service). Periods of other gateways are ignored; a gateway
 * with no down period was up throughout. An open period runs until `now` and stays open (to: null) in the result.
 */
export function carrierOutages(periods: readonly GatewayPeriod[], gateways: readonly string[], now: Date): Period[] {
  const want = new Set(gateways);
  if (want.size === 0) return [];
  const nowMs = now.getTime();
  // +1 when a gateway goes down, -1 when it comes back; per gateway the periods are merged first so overlapping
  // rows (two instances that disagreed) count once
  const events: { at: number; d: number }[] = [];
  for (const g of want) {
    const mine = periods.filter((p) => p.gateway === g).map((p) => ({ from: p.from.getTime(), to: ms(p.to, Infinity) }))
      .filter((p) => p.from < nowMs).sort((a, b) => a.from - b.from);
    const merged: { from: number; to: number }[] = [];
    for (const p of mine) {
      const last = merged[merged.length - 1];
      if (last && p.from <= last.to) last.to = Math.max(last.to, p.to);
      else merged.push({ ...p });
    }
    for (const p of merged) {
      events.push({ at: p.from, d: 1 });
      if (p.to !== Infinity) events.push({ at: p.to, d: -1 });
    }
  }
  events.sort((a, b) => a.at - b.at || a.d - b.d); // an up and a down at the same instant: up first (no zero-length outage)
  const out: Period[] = [];
  let down = 0;
  let start = 0;
  for (const e of events) {
    const before = down;
    down += e.d;
    if (before < want.size && down === want.size) start = e.at;
    else if (before === want.size && down < want.size && e.at > start) out.push({ from: new Date(start), to: new Date(e.at) });
  }
  if (down === want.size) out.push({ from: new Date(start), to: null });
  return out;
}

/**
 * Working days touched by [from, to) in the service zone: a working day counts when the service was out at any
 * time of it. The contract does not say whether a part day counts; it was drafted by Party B, so the reading in the
 * tenant's favour is taken (contra proferentem, Civil Code art. 498).
 */
export function workingDaysTouched(from: Date, to: Date, cal: WorkingCalendar): number {
  if (to.getTime() <= from.getTime()) return 0;
  const first = dayOf(from, cal.timeZone);
  let last = dayOf(to, cal.timeZone);
  if (startOfDay(last, cal.timeZone).getTime() === to.getTime()) last = addDays(last, -1); // ends at 00:00: that day is not touched
  return cal.workingDaysBetween(first, addDays(last, 1));
}

interface FaultReportFacts {
  id: bigint;
  foundAt: Date;
  onTime: boolean;
}

interface QualifyingOutage {
  from: Date;
  to: Date | null;
  /** working days touched inside the tenant's service period, up to now */
  workingDays: number;
  faultReportId: bigint;
}

export type OutageRefundCheck =
  | { eligible: true; outage: QualifyingOutage }
  | { eligible: false; reason: string };

/**
 * Art. 5.3 as checked from the outage log: the tenant may terminate and get its paid balance back when a carrier
 * outage, counted inside its service period up to `now`, touched MORE than 15 working days, and the tenant reported
 * a fault found during that outage on time (art. 5.2: a late report forfeits the claim). The longest such outage is
 * returned as the evidence.
 */
export function checkOutageRefund(i: {
  outages: readonly Period[];
  reports: readonly FaultReportFacts[];
  serviceStart: Date | null;
  serviceEnd: Date | null;
  now: Date;
  calendar: WorkingCalendar;
}): OutageRefundCheck {
  if (!i.serviceStart) return { eligible: false, reason: 'the tenant has no service period' };
  const lo = i.serviceStart.getTime();
  const hi = Math.min(i.serviceEnd ? i.serviceEnd.getTime() : Infinity, i.now.getTime());
  let best: QualifyingOutage | null = null;
  let longest = 0;
  for (const o of i.outages) {
    const from = Math.max(o.from.getTime(), lo);
    const to = Math.min(ms(o.to, Infinity), hi);
    if (to <= from) continue;
    const days = workingDaysTouched(new Date(from), new Date(to), i.calendar);
    longest = Math.max(longest, days);
    if (days <= OUTAGE_REFUND_WORKING_DAYS) continue;
    const report = i.reports.find((r) => r.onTime && r.foundAt.getTime() >= o.from.getTime() && r.foundAt.getTime() < ms(o.to, Infinity));
    if (!report) continue;
    if (!best || days > best.workingDays) best = { from: o.from, to: o.to, workingDays: days, faultReportId: report.id };
  }
  if (best) return { eligible: true, outage: best };
  if (longest > OUTAGE_REFUND_WORKING_DAYS) {
    return { eligible: false, reason: `a carrier outage of ${longest} working days is logged, but the tenant reported no fault found during it on time (art. 5.2)` };
  }
  return {
    eligible: false,
    reason: longest === 0
      ? 'the outage log shows no carrier outage (all gateways down) in the tenant\'s service period'
      : `the longest carrier outage in the tenant's service period touched ${longest} working day(s); art. 5.3 needs more than ${OUTAGE_REFUND_WORKING_DAYS}`,
  };
}
