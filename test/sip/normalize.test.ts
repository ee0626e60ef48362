import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { e164Digits, e164Prefix, formatForGateway, isDomestic, toE164, userPart } from '../../src/sip/normalize.js';

describe('toE164 (China number formats)', () => {
  it.each([
    ['+8613800138000', '+8613800138000'],
    ['008613800138000', '+8613800138000'],
    ['8613800138000', '+8613800138000'],
    ['13800138000', '+8613800138000'],
    ['057188886666', '+8657188886666'],
    ['01088886666', '+861088886666'],
    ['+86 571 8888-6666', '+8657188886666'],
    ['sip:+8657188886666@10.0.0.5', '+8657188886666'],
    ['"Agent" <sip:057188886666@10.0.0.5;user=phone>', '+8657188886666'],
    ['tel:+8613800138000', '+8613800138000'],
    ['+442071234567', '+442071234567'],
    ['00442071234567', '+442071234567'],
  ])('%s → %s', (raw, e164) => {
    expect(toE164(raw)).toBe(e164);
  });

  it.each(['', 'abc', '12345', '+86', '0', '00', '+8612', '8612345', '1380013800', 'anonymous', '+0123456789'])('refuses %j', (raw) => {
    expect(toE164(raw)).toBeNull();
  });

  it('all input forms of one mobile agree (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), fc.stringMatching(/^\d{9}$/), (second, rest) => {
        const nsn = `1${second}${rest}`;
        const forms = [nsn, `86${nsn}`, `+86${nsn}`, `0086${nsn}`];
        return forms.every((f) => toE164(f) === `+86${nsn}`);
      }),
    );
  });
});

describe('formatForGateway', () => {
  it('mobile', () => {
    expect(formatForGateway('+8613800138000', 'e164')).toBe('+8613800138000');
    expect(formatForGateway('+8613800138000', 'national')).toBe('13800138000');
    expect(formatForGateway('+8613800138000', 'international00')).toBe('008613800138000');
  });
  it('fixed line keeps the trunk prefix 0 in national format', () => {
    expect(formatForGateway('+8657188886666', 'national')).toBe('057188886666');
  });
  it('international destination in national format gets the 00 prefix', () => {
    expect(formatForGateway('+442071234567', 'national')).toBe('00442071234567');
  });
  it('round-trips through toE164 for every format', () => {
    for (const n of ['+8613800138000', '+8657188886666', '+442071234567']) {
      for (const f of ['e164', 'national', 'international00'] as const) expect(toE164(formatForGateway(n, f))).toBe(n);
    }
  });
});

describe('helpers', () => {
  it('e164Digits and isDomestic', () => {
    expect(e164Digits('+8613800138000')).toBe('8613800138000');
    expect(isDomestic('+8613800138000')).toBe(true);
    expect(isDomestic('+442071234567')).toBe(false);
  });
  it('userPart strips URI and separators', () => {
    expect(userPart('<sip:138-0013-8000@host>;tag=x')).toBe('13800138000');
  });
});

describe('e164Prefix (a typed called-number prefix for CDR searches)', () => {
  it.each([
    ['138', '+86138'], ['13800138000', '+8613800138000'], ['0571', '+86571'], ['021 8888', '+86218888'],
    ['+86138', '+86138'], ['0044', '+44'], ['+44', '+44'],
  ])('%s → %s', (typed, prefix) => {
    expect(e164Prefix(typed)).toBe(prefix);
  });
});
