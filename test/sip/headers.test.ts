import { describe, expect, it } from 'vitest';
import { bLegHeaders, byeHeaders, gatewayUri, rejectionHeaders } from '../../src/sip/headers.js';
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
  const h = bLegHeaders(a, '+8657188886666', '+8613800138000', gw, 'softswitch');

  it('From and PAI are the tenant number in the gateway format, on @localhost for the server to rewrite', () => {
    expect(h['From']).toBe('<sip:057188886666@localhost>');
    expect(h['P-Asserted-Identity']).toBe('<sip:057188886666@localhost>');
    expect(h['To']).toBe('<sip:13800138000@10.0.0.9:5070>');
  });
  it('strips Session-Expires, Min-SE, X- headers, Remote-Party-ID and the timer option tag', () => {
    const names = Object.keys(h).map((k) => k.toLowerCase());
    for (const bad of ['session-expires', 'min-se', 'x-ccc-internal', 'x-tenant', 'remote-party-id']) expect(names).not.toContain(bad);
    expect(h['Supported']).toBe('replaces');
    expect(h['Allow']).toBe(a.allow);
  });
  it('e164 gateways get +86 numbers', () => {
    const e = bLegHeaders({}, '+8657188886666', '+8613800138000', { ...gw, numberFormat: 'e164' }, 'ua');
    expect(e['From']).toBe('<sip:+8657188886666@localhost>');
    expect(e['Supported']).toBeUndefined();
  });
  it('request URI', () => {
    expect(gatewayUri('+8613800138000', gw)).toBe('sip:13800138000@10.0.0.9:5070;transport=udp');
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
