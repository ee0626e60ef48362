import { describe, expect, it } from 'vitest';
import { aLegResponseHeaders, bLegHeaders, byeHeaders, gatewayUri, rejectionHeaders } from '../../src/sip/headers.js';
import type { Gateway } from '../../src/sip/directory.js';

const gw: Gateway = { id: '1', name: 'gw1', host: '10.0.0.9', port: 5070, transport: 'udp', priority: 10, weight: 100, numberFormat: 'national' };

describe('B-leg header policy', () => {
  const a = {
    'from': '"Agent" <sip:+8657188886666@10.0.0.5>;tag=abc',
    'p-asserted-identity': '<sip:+8699999999999@10.0.0.5>',
    'session-expires': '1800;refresher=uac',
    'min-se': '90',
    'X-CCC-Internal': 'secret',
    'X-Tenant': '7',
    'remote-party-id': '<sip:1@x>',
    'allow': 'INVITE, ACK, BYE, CANCEL, OPTIONS',
    'supported': 'timer, replaces',
  };
  const h = bLegHeaders(a, '+8657188886666', '+8613800138000', gw, 'softswitch', 90);

  it('From and PAI are the tenant number in the gateway format, on @localhost for the server to rewrite', () => {
    expect(h['From']).toBe('<sip:057188886666@localhost>');
    expect(h['P-Asserted-Identity']).toBe('<sip:057188886666@localhost>');
    expect(h['To']).toBe('<sip:13800138000@10.0.0.9:5070>');
  });
  it('strips X- headers and Remote-Party-ID; the session timer is ours (carrier refreshes), not the caller\'s', () => {
    const names = Object.keys(h).map((k) => k.toLowerCase());
    for (const bad of ['x-ccc-internal', 'x-tenant', 'remote-party-id']) expect(names).not.toContain(bad);
    expect(h['Session-Expires']).toBe('90;refresher=uas'); // not the caller's 1800;refresher=uac
    expect(h['Min-SE']).toBe('90');
    expect(h['Supported']).toBe('replaces, 100rel, timer'); // we PRACK reliable provisionals and take part in timers
    expect(h['Allow']).toBe(a.allow);
  });
  it('e164 gateways get +86 numbers', () => {
    const e = bLegHeaders({}, '+8657188886666', '+8613800138000', { ...gw, numberFormat: 'e164' }, 'ua', 1800);
    expect(e['From']).toBe('<sip:+8657188886666@localhost>');
    expect(e['Supported']).toBe('100rel, timer');
    expect(e['Session-Expires']).toBe('1800;refresher=uas');
    expect(bLegHeaders({ supported: '100rel, timer' }, '+8657188886666', '+8613800138000', gw, 'ua', 90)['Supported']).toBe('100rel, timer');
  });
  it('request URI', () => {
    expect(gatewayUri('+8613800138000', gw)).toBe('sip:13800138000@10.0.0.9:5070;transport=udp');
  });
});

describe('A-leg responses relayed from the B leg', () => {
  const res = (status: number, rseq: boolean) => ({ status, has: (n: string) => rseq && n === 'RSeq' });
  it('a reliable 18x goes on reliably only to a caller that supports 100rel', () => {
    expect(aLegResponseHeaders({ supported: 'timer, 100rel' }, res(183, true))).toEqual({ Require: '100rel' });
    expect(aLegResponseHeaders({ require: '100rel' }, res(180, true))).toEqual({ Require: '100rel' });
    expect(aLegResponseHeaders({ supported: 'replaces' }, res(183, true))).toEqual({});
    expect(aLegResponseHeaders({}, res(183, true))).toEqual({});
  });
  it('unreliable provisionals and final responses get nothing', () => {
    expect(aLegResponseHeaders({ supported: '100rel' }, res(183, false))).toEqual({});
    expect(aLegResponseHeaders({ supported: '100rel' }, res(200, true))).toEqual({});
  });
});

describe('rejection and BYE headers', () => {
  it('Reason with Q.850 cause + Warning with the text, Retry-After when given', () => {
    const h = rejectionHeaders({ status: 402, phrase: 'Payment Required', reason: 'no_balance', text: 'insufficient balance' }, 'softswitch');
    expect(h).toEqual({ Reason: 'Q.850;cause=21;text="insufficient balance"', Warning: '399 softswitch "insufficient balance"' });
    const r = rejectionHeaders({ status: 503, phrase: 'x', reason: 'limit', text: 'cps "x"', retryAfter: 1 }, 'ua');
    expect(r['Retry-After']).toBe('1');
    expect(r['Reason']).toBe('Q.850;cause=41;text="cps  x "');
  });
  it('BYE Reason for a cut-off', () => {
    expect(byeHeaders('balance exhausted')).toEqual({ Reason: 'Q.850;cause=16;text="balance exhausted"' });
  });
});
