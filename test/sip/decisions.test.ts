import { describe, expect, it } from 'vitest';
import * as d from '../../src/sip/decisions.js';
import type { NumberOwner, TenantInfo } from '../../src/sip/directory.js';

const NOW = Date.parse('2026-11-24T04:00:00Z'); // 12:00 in Asia/Shanghai

function tenant(over: Partial<TenantInfo> = {}): TenantInfo {
  return {
    id: '7', code: 'acme', status: 'active', serviceStart: null, serviceEnd: null, maxConcurrent: 2, maxCps: 1,
    blockedPrefixes: [], allowInternational: false, callingHoursFrom: null, callingHoursTo: null, dailySpendCapFen: null,
    announcementLanguage: 'zh', lowCreditWarning: false,
    ...over,
  };
}
function owner(state: NumberOwner['state'], t: TenantInfo | null = tenant()): NumberOwner {
  return { e164: '+8657188886666', state, tenant: t };
}

describe('ingress', () => {
  it('known trunk passes, unknown address is 403 ingress naming the source', () => {
    expect(d.checkIngress({ id: '1', name: 'ccc', failurePolicy: 'terminate' }, '10.0.0.5')).toBeNull();
    const r = d.checkIngress(null, '6.6.6.6')!;
    expect([r.status, r.reason]).toEqual([403, 'ingress']);
    expect(r.text).toContain('6.6.6.6');
  });
});

describe('input limits (the app\'s own door, for when drachtio-server is the edge)', () => {
  it('a clean identity passes; an over-long or injected one is 400 bad_request saying which field', () => {
    const ok = { callId: 'abc@10.0.0.5', requestUri: 'sip:13800138000@10.0.0.9', from: '<sip:+8657188880000@10.0.0.5>;tag=1', to: '<sip:13800138000@10.0.0.9>', fromTag: '1' };
    expect(d.checkInput(ok)).toBeNull();
    const r = d.checkInput({ ...ok, callId: 'x'.repeat(257) })!;
    expect([r.status, r.phrase, r.reason, r.text]).toEqual([400, 'Bad Request', 'bad_request', 'Call-ID longer than 256 characters']);
    expect(d.checkInput({ ...ok, pai: '<sip:1\u0000@x>' })?.text).toBe('P-Asserted-Identity contains CR, LF or NUL');
    expect(d.checkInput({ ...ok, fromTag: 't'.repeat(129) })?.text).toBe('From tag longer than 128 characters');
  });
});

describe('caller ID and tenant', () => {
  it('approved number of an active tenant passes', () => {
    expect(d.checkCaller('+8657188886666', owner('approved'), NOW)).toBeNull();
  });
  it.each([
    [null, owner('approved'), 'caller ID is not a valid number'],
    ['+8657188886666', null, 'caller ID not held by any tenant'],
    ['+8657188886666', owner('approved', null), 'caller ID not held by any tenant'],
    ['+8657188886666', owner('reclaimed'), 'caller ID not held by any tenant'],
    ['+8657188886666', owner('pending_review'), 'caller ID not approved (real-name review pending)'],
    ['+8657188886666', owner('suspended'), 'caller ID number suspended'],
  ])('%s / %j → 403 caller_id', (e164, o, text) => {
    const r = d.checkCaller(e164, o, NOW)!;
    expect(r).toMatchObject({ status: 403, reason: 'caller_id', text });
  });
  it.each([
    [{ status: 'suspended' as const }, 'tenant suspended'],
    [{ status: 'terminated' as const }, 'tenant terminated'],
    [{ serviceStart: new Date(NOW + 1) }, 'service period not started'],
    [{ serviceEnd: new Date(NOW) }, 'service period ended'],
  ])('tenant %j → 403 %s', (over, text) => {
    expect(d.checkCaller('+8657188886666', owner('approved', tenant(over)), NOW)).toMatchObject({ status: 403, reason: 'tenant', text });
  });
  it('inside the service period passes (start inclusive, end exclusive)', () => {
    expect(d.checkTenant(tenant({ serviceStart: new Date(NOW), serviceEnd: new Date(NOW + 1) }), NOW)).toBeNull();
  });
});

describe('destination', () => {
  it('invalid number → 484', () => {
    expect(d.checkDestination(null, tenant())).toMatchObject({ status: 484, reason: 'no_route' });
  });
  it('international refused unless enabled', () => {
    expect(d.checkDestination('+442071234567', tenant())).toMatchObject({ status: 403, reason: 'blocked', text: 'international calls not enabled' });
    expect(d.checkDestination('+442071234567', tenant({ allowInternational: true }))).toBeNull();
  });
  it('blocked prefixes match E.164 digits', () => {
    const t = tenant({ blockedPrefixes: ['86168', '8695'] });
    expect(d.checkDestination('+8616812345678', t)).toMatchObject({ status: 403, reason: 'blocked', text: 'destination prefix 86168 blocked' });
    expect(d.checkDestination('+8613800138000', t)).toBeNull();
  });
});

describe('calling hours (service timezone)', () => {
  const tz = 'Asia/Shanghai';
  it('no window → any time', () => {
    expect(d.checkHours(tenant(), NOW, tz)).toBeNull();
  });
  it('09:00-18:00 at 12:00 China time passes; at 19:00 → 480 hours', () => {
    const t = tenant({ callingHoursFrom: '09:00:00', callingHoursTo: '18:00:00' });
    expect(d.checkHours(t, NOW, tz)).toBeNull();
    expect(d.checkHours(t, NOW + 7 * 3600_000, tz)).toMatchObject({ status: 480, reason: 'hours', text: 'outside calling hours 09:00-18:00' });
  });
  it('the end is exclusive and the start inclusive', () => {
    const t = tenant({ callingHoursFrom: '12:00:00', callingHoursTo: '12:01:00' });
    expect(d.checkHours(t, NOW, tz)).toBeNull();
    expect(d.checkHours(t, NOW + 60_000, tz)).not.toBeNull();
    expect(d.checkHours(t, NOW - 1, tz)).not.toBeNull();
  });
  it('a window across midnight (22:00-06:00)', () => {
    const t = tenant({ callingHoursFrom: '22:00:00', callingHoursTo: '06:00:00' });
    expect(d.checkHours(t, NOW, tz)).not.toBeNull(); // 12:00
    expect(d.checkHours(t, NOW + 11 * 3600_000, tz)).toBeNull(); // 23:00
    expect(d.checkHours(t, NOW + 14 * 3600_000, tz)).toBeNull(); // 02:00
  });
  it('uses the zone, not UTC', () => {
    expect(d.localMinutes(NOW, 'Asia/Shanghai')).toBe(12 * 60);
    expect(d.localMinutes(NOW, 'Europe/London')).toBe(4 * 60);
  });
});

describe('limits', () => {
  it('daily spend cap: below passes, at the cap → 403 limit', () => {
    const t = tenant({ dailySpendCapFen: 1000n });
    expect(d.checkSpendCap(t, 999n)).toBeNull();
    expect(d.checkSpendCap(t, 1000n)).toMatchObject({ status: 403, reason: 'limit' });
    expect(d.checkSpendCap(tenant(), 10n ** 12n)).toBeNull();
  });
  it('admission results', () => {
    expect(d.admissionRejection('ok', tenant())).toBeNull();
    expect(d.admissionRejection('cps', tenant())).toMatchObject({ status: 503, reason: 'limit', retryAfter: 1 });
    expect(d.admissionRejection('concurrency', tenant())).toMatchObject({ status: 503, reason: 'limit', text: 'maximum calls in progress 2 reached' });
  });
});

describe('charging refusals', () => {
  it.each([
    ['no_balance', 402, 'no_balance'],
    ['suspended', 403, 'tenant'],
    ['period_not_started', 403, 'tenant'],
    ['period_ended', 403, 'tenant'],
    ['no_rate', 404, 'no_route'],
    ['limit', 503, 'limit'],
    ['store_down', 503, 'store_down'],
  ] as const)('%s → %d %s', (reason, status, label) => {
    expect(d.refusalRejection(reason, '')).toMatchObject({ status, reason: label });
    expect(d.refusalRejection(reason, 'because').text).toBe('because');
  });
});

describe('announced refusals (an early-media prompt before the final response)', () => {
  it('no balance, outside hours and a suspended tenant carry their prompt', () => {
    expect(d.refusalRejection('no_balance', '').prompt).toBe('no_balance');
    expect(d.refusalRejection('suspended', '').prompt).toBe('tenant_suspended');
    expect(d.checkCaller('+8657188886666', owner('approved', tenant({ status: 'suspended' })), NOW)?.prompt).toBe('tenant_suspended');
    const hours = tenant({ callingHoursFrom: '09:00:00', callingHoursTo: '10:00:00' });
    expect(d.checkHours(hours, NOW, 'Asia/Shanghai')?.prompt).toBe('outside_hours');
  });
  it('every other refusal has no prompt', () => {
    for (const r of ['period_not_started', 'period_ended', 'no_rate', 'limit', 'store_down'] as const) expect(d.refusalRejection(r, '').prompt).toBeUndefined();
    expect(d.checkCaller('+8657188886666', owner('approved', tenant({ status: 'terminated' })), NOW)?.prompt).toBeUndefined();
    expect(d.checkCaller('+8657188886666', owner('pending_review'), NOW)?.prompt).toBeUndefined();
    expect(d.checkIngress(null, '6.6.6.6')?.prompt).toBeUndefined();
    expect(d.draining().prompt).toBeUndefined();
  });
});

describe('failover and Q.850', () => {
  it('fails over on 5xx, 408 only', () => {
    for (const s of [500, 502, 503, 504, 408]) expect(d.shouldFailover(s)).toBe(true);
    for (const s of [400, 403, 404, 480, 486, 487, 600, 603]) expect(d.shouldFailover(s)).toBe(false);
  });
  it('Q.850 causes by status', () => {
    expect([402, 403, 404, 484, 480, 503, 486].map(d.q850For)).toEqual([21, 21, 1, 28, 18, 41, 31]);
  });
});

describe('422 Session Interval Too Small (RFC 4028 §7.4)', () => {
  it('asks again once with the carrier\'s Min-SE when it is above ours and at most a day', () => {
    expect(d.sessionIntervalRetry(422, 1800, 90)).toBe(1800);
    expect(d.sessionIntervalRetry(422, 86_400, 90)).toBe(86_400);
  });
  it('no second attempt: another status, no Min-SE, one not above ours, or one beyond a day', () => {
    expect(d.sessionIntervalRetry(503, 1800, 90)).toBeNull();
    expect(d.sessionIntervalRetry(422, undefined, 90)).toBeNull();
    expect(d.sessionIntervalRetry(422, 90, 90)).toBeNull();
    expect(d.sessionIntervalRetry(422, 60, 90)).toBeNull();
    expect(d.sessionIntervalRetry(422, 86_401, 90)).toBeNull();
  });
});
