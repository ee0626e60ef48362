// Pure rules of faults and outages (art. 5.2, 5.3, 10) against the bundled 2026 calendar.
import { describe, expect, it } from 'vitest';
import { WorkingCalendar } from '../../src/calendar/calendar.js';
import { readCalendarFiles } from '../../src/calendar/load.js';
import { carrierOutages, checkOutageRefund, faultReportDeadline, workingDaysTouched, type GatewayPeriod } from '../../src/billing/outage.js';

const TZ = 'Asia/Shanghai';
const cal = WorkingCalendar.fromYears(readCalendarFiles(), TZ);
/** Shanghai wall time → instant */
const sh = (s: string): Date => new Date(`${s}+08:00`);

describe('fault report term (art. 5.2: within 1 working day of finding the fault)', () => {
  it('ends with the first working day after the day of finding, holidays and make-up days included', () => {
    expect(faultReportDeadline(sh('2026-01-09T18:00:00'), cal)).toEqual(sh('2026-01-13T00:00:00')); // Fri → end of Mon
    expect(faultReportDeadline(sh('2026-09-18T18:00:00'), cal)).toEqual(sh('2026-09-21T00:00:00')); // Fri → Sun 09-20 is a make-up working day
    expect(faultReportDeadline(sh('2026-09-30T10:00:00'), cal)).toEqual(sh('2026-10-09T00:00:00')); // National Day: Oct 1-7 off → Thu 10-08
    expect(faultReportDeadline(sh('2026-03-03T00:00:00'), cal)).toEqual(sh('2026-03-05T00:00:00')); // Tue 00:00 → end of Wed
  });
});

describe('working days touched by a period', () => {
  it('counts every working day the period touches (part days too), none for an end at midnight', () => {
    // Mon 02-02 … Fri 02-27: 02-02..06 (5), 02-09..13 (5), Sat 02-14 make-up (1), 02-15..23 Spring Festival, 02-24..27 (4)
    expect(workingDaysTouched(sh('2026-02-02T10:00:00'), sh('2026-02-27T10:00:00'), cal)).toBe(15);
    expect(workingDaysTouched(sh('2026-02-02T10:00:00'), sh('2026-02-28T00:00:00'), cal)).toBe(15);
    expect(workingDaysTouched(sh('2026-02-02T10:00:00'), sh('2026-02-28T00:00:01'), cal)).toBe(16); // Sat 02-28 make-up day
    expect(workingDaysTouched(sh('2026-02-07T10:00:00'), sh('2026-02-08T20:00:00'), cal)).toBe(0); // a weekend
    expect(workingDaysTouched(sh('2026-03-02T10:00:00'), sh('2026-03-02T10:00:00'), cal)).toBe(0);
  });
});

describe('carrier outages: every enabled gateway down at once', () => {
  const p = (gateway: string, from: string, to: string | null): GatewayPeriod => ({ gateway, from: sh(from), to: to ? sh(to) : null });
  const now = sh('2026-06-01T00:00:00');
  const fmt = (ps: { from: Date; to: Date | null }[]) => ps.map((x) => [x.from.toISOString(), x.to?.toISOString() ?? null]);
  it('is the intersection of the gateways\' down periods', () => {
    const periods = [p('a', '2026-05-01T10:00:00', '2026-05-01T12:00:00'), p('b', '2026-05-01T11:00:00', '2026-05-01T13:00:00')];
    expect(fmt(carrierOutages(periods, ['a', 'b'], now))).toEqual([[sh('2026-05-01T11:00:00').toISOString(), sh('2026-05-01T12:00:00').toISOString()]]);
    expect(carrierOutages(periods, ['a', 'b', 'c'], now)).toEqual([]); // c answered throughout
    expect(fmt(carrierOutages(periods, ['a'], now))).toHaveLength(1);
    expect(carrierOutages(periods, [], now)).toEqual([]);
  });
  it('keeps an outage open while all are still down; merges one gateway\'s overlapping or touching rows', () => {
    const periods = [
      p('a', '2026-05-10T10:00:00', '2026-05-10T11:00:00'), p('a', '2026-05-10T11:00:00', null), p('a', '2026-05-10T10:30:00', '2026-05-10T10:45:00'),
      p('b', '2026-05-10T09:00:00', null), p('x', '2026-05-01T00:00:00', null),
    ];
    expect(fmt(carrierOutages(periods, ['a', 'b'], now))).toEqual([[sh('2026-05-10T10:00:00').toISOString(), null]]);
  });
  it('a gateway back up at the instant another goes down makes no outage', () => {
    const periods = [p('a', '2026-05-01T10:00:00', '2026-05-01T11:00:00'), p('b', '2026-05-01T11:00:00', '2026-05-01T12:00:00')];
    expect(carrierOutages(periods, ['a', 'b'], now)).toEqual([]);
  });
});

describe('outage refund (art. 5.3: more than 15 consecutive working days, fault reported on time)', () => {
  const outage = { from: sh('2026-02-02T10:00:00'), to: sh('2026-02-28T09:00:00') }; // 16 working days
  const service = { serviceStart: sh('2026-01-05T10:00:00'), serviceEnd: sh('2027-01-05T10:00:00'), now: sh('2026-03-10T10:00:00'), calendar: cal };
  const onTime = { id: 7n, foundAt: sh('2026-02-02T11:00:00'), onTime: true };
  it('is due with an outage of 16 working days and a report found during it, on time', () => {
    const r = checkOutageRefund({ ...service, outages: [outage], reports: [onTime] });
    expect(r).toEqual({ eligible: true, outage: { ...outage, workingDays: 16, faultReportId: 7n } });
  });
  it('is refused for 15 working days, for a late report, for a report of another time, and before the service started', () => {
    const fifteen = { from: outage.from, to: sh('2026-02-27T23:00:00') };
    expect(checkOutageRefund({ ...service, outages: [fifteen], reports: [onTime] })).toMatchObject({ eligible: false, reason: expect.stringMatching(/touched 15 working day.*more than 15/) });
    expect(checkOutageRefund({ ...service, outages: [outage], reports: [{ ...onTime, onTime: false }] })).toMatchObject({ eligible: false, reason: expect.stringMatching(/16 working days.*on time/) });
    expect(checkOutageRefund({ ...service, outages: [outage], reports: [{ ...onTime, foundAt: sh('2026-03-02T10:00:00') }] }).eligible).toBe(false);
    expect(checkOutageRefund({ ...service, serviceStart: sh('2026-02-20T00:00:00'), outages: [outage], reports: [onTime] })).toMatchObject({ eligible: false, reason: expect.stringMatching(/touched 5 working day/) });
    expect(checkOutageRefund({ ...service, outages: [], reports: [onTime] })).toMatchObject({ eligible: false, reason: expect.stringMatching(/no carrier outage/) });
  });
  it('counts an outage still going on up to now', () => {
    const open = { from: outage.from, to: null };
    expect(checkOutageRefund({ ...service, now: sh('2026-02-27T12:00:00'), outages: [open], reports: [onTime] }).eligible).toBe(false); // 15 so far
    expect(checkOutageRefund({ ...service, now: sh('2026-02-28T08:00:00'), outages: [open], reports: [onTime] })).toMatchObject({ eligible: true, outage: { to: null, workingDays: 16 } });
  });
});
