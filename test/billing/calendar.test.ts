import { describe, expect, it } from 'vitest';
import { CalendarError, parseCalendarYear, WorkingCalendar } from '../../src/calendar/calendar.js';
import { readCalendarFiles } from '../../src/calendar/load.js';
import { addDays, addMonths, dayOf, monthLabel, monthRange, startOfDay } from '../../src/calendar/zone.js';

const TZ = 'Asia/Shanghai';
const files = readCalendarFiles();
const cal = WorkingCalendar.fromYears(files, TZ);

describe('zone arithmetic', () => {
  it('addMonths keeps the Shanghai wall clock and clamps the day to the month end', () => {
    expect(addMonths(new Date('2026-01-31T02:00:00Z'), 1, TZ).toISOString()).toBe('2026-02-28T02:00:00.000Z');
    expect(addMonths(new Date('2028-01-31T02:00:00Z'), 1, TZ).toISOString()).toBe('2028-02-29T02:00:00.000Z');
    expect(addMonths(new Date('2026-12-31T15:30:00Z'), 2, TZ).toISOString()).toBe('2027-02-28T15:30:00.000Z');
    expect(addMonths(new Date('2026-02-15T14:00:00Z'), 1, 'America/New_York').toISOString()).toBe('2026-03-15T13:00:00.000Z');
  });
  it('days and months are those of the service zone', () => {
    expect(dayOf(new Date('2026-12-31T16:30:00Z'), TZ)).toBe('2027-01-01');
    expect(monthLabel(new Date('2026-11-30T16:30:00Z'), TZ)).toBe('2026-12');
    expect(startOfDay('2027-01-01', TZ).toISOString()).toBe('2026-12-31T16:00:00.000Z');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    const dec = monthRange('2026-12', TZ);
    expect([dec.start.toISOString(), dec.end.toISOString()]).toEqual(['2026-11-30T16:00:00.000Z', '2026-12-31T16:00:00.000Z']);
    expect(() => monthRange('2026-13', TZ)).toThrow();
  });
});

describe('China working-day calendar (config/calendar)', () => {
  it('ships 2026 as the official State Council notice of 2025-11-04 and 2027 as unconfirmed', () => {
    expect(files.map((f) => [f.year, f.status, f.announcedOn])).toEqual([[2026, 'official', '2025-11-04'], [2027, 'unconfirmed', null]]);
    expect(cal.coverage(2026).status).toBe('official');
    expect(cal.coverage(2027).status).toBe('unconfirmed');
    expect(cal.coverage(2028).status).toBe('missing');
  });
  it('2026 holidays are off, make-up Saturdays and Sundays are working days', () => {
    for (const d of ['2026-01-01', '2026-01-02', '2026-02-16', '2026-02-23', '2026-04-06', '2026-05-04', '2026-05-05', '2026-06-19', '2026-09-25', '2026-10-07']) {
      expect(cal.isWorkingDay(d), d).toBe(false);
    }
    for (const d of ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10']) expect(cal.isWorkingDay(d), d).toBe(true);
    expect(cal.isWorkingDay('2026-03-02')).toBe(true); // ordinary Monday
    expect(cal.isWorkingDay('2026-03-07')).toBe(false); // ordinary Saturday
  });
  it('3 working days from signing skip the holidays: signed Wed 2026-09-30 → due at the end of the make-up Saturday 2026-10-10', () => {
    // Wed 2026-09-30 10:00: Oct 1-7 off, Thu 10-08 (1), Fri 10-09 (2), Sat 10-10 make-up day (3) → due 2026-10-11 00:00
    expect(cal.termEnd(new Date('2026-09-30T02:00:00Z'), 3).toISOString()).toBe(startOfDay('2026-10-11', TZ).toISOString());
    // Monday 2026-11-23: Tue, Wed, Thu → due Fri 00:00
    expect(cal.termEnd(new Date('2026-11-23T02:00:00Z'), 3).toISOString()).toBe(startOfDay('2026-11-27', TZ).toISOString());
    // over the Spring Festival: Fri 2026-02-13 → Sat 02-14 (make-up, 1), 02-24 (2), 02-25 (3)
    expect(cal.nthWorkingDayAfter('2026-02-13', 3)).toBe('2026-02-25');
  });
  it('counts and steps back over working days (renewal 5 working days before the end; outage of 15 working days)', () => {
    // 10-08 (1), Oct 1-7 off, 09-30 (2), 09-29 (3), 09-28 (4), Sat/Sun, 09-25 Mid-Autumn off, 09-24 (5)
    expect(cal.nthWorkingDayBefore('2026-10-09', 5)).toBe('2026-09-24');
    // Sep 28, 29, 30, Oct 8, 9 and the make-up Saturday Oct 10; Oct 12 itself excluded
    expect(cal.workingDaysBetween('2026-09-28', '2026-10-12')).toBe(6);
  });
  it('a year without an official notice counts Monday-Friday only', () => {
    expect(cal.isWorkingDay('2027-02-08')).toBe(true); // a Monday, whatever the Spring Festival will be
    expect(cal.isWorkingDay('2027-02-06')).toBe(false); // a Saturday
  });
  it('refuses bad files with the field named, and guessed days in an unconfirmed year', () => {
    const ok = { year: 2030, status: 'official', source: 'x', announcedOn: '2029-11-01', note: '', holidays: [], workdays: [] };
    expect(() => parseCalendarYear({ ...ok, holidays: [{ name: 'a', from: '2030-02-05', to: '2030-02-01' }] })).toThrow(/before/);
    expect(() => parseCalendarYear({ ...ok, workdays: [{ name: 'a', date: '2030-02-30' }] })).toThrow(CalendarError);
    expect(() => parseCalendarYear({ ...ok, status: 'unconfirmed', workdays: [{ name: 'a', date: '2030-02-02' }] })).toThrow(/no guessing/);
    expect(() => parseCalendarYear({ ...ok, holidays: [{ name: 'a', from: '2030-02-02', to: '2030-02-02' }], workdays: [{ name: 'b', date: '2030-02-02' }] })).toThrow(/both/);
    expect(() => parseCalendarYear({ ...ok, source: '' })).toThrow(/source/);
  });
});
