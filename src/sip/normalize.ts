/**
 * Number normalization for the China trunk. Callers and callees arrive as +86…, 0086…, 86…, 0<area>…, or bare
 * 11-digit mobiles; everything is normalized to E.164 (+86…) once, at the edge of the app.
 */

export type NumberFormat = 'e164' | 'national' | 'international00';

const MOBILE = /^1[3-9]\d{9}$/; // 11-digit PRC mobile
const NSN = /^(1[3-9]\d{9}|10\d{8}|[2-9]\d{8,10})$/; // national significant number: mobile, Beijing 10 + 8 digits, or area code + subscriber

/** The user part of a SIP/tel URI or a bare number, without visual separators. */
export function userPart(uriOrNumber: string): string {
  const m = /^(?:sips?:|tel:)?([^@;>]*)/.exec(uriOrNumber.trim().replace(/^.*<\s*/, ''));
  return (m?.[1] ?? '').replace(/[\s\-().]/g, '');
}

/**
 * To E.164, or null when the input cannot be a dialable number. International numbers (other country codes)
 * keep their country code: '+44…'.
 */
export function toE164(raw: string): string | null {
  const s = userPart(raw);
  if (!/^\+?\d+$/.test(s)) return null;
  let intl: string | null = null;
  if (s.startsWith('+')) intl = s.slice(1);
  else if (s.startsWith('00')) intl = s.slice(2);
  if (intl !== null) {
    if (intl.startsWith('86')) return NSN.test(intl.slice(2)) ? `+${intl}` : null;
    return /^[1-9]\d{6,14}$/.test(intl) ? `+${intl}` : null;
  }
  if (s.startsWith('0')) return NSN.test(s.slice(1)) ? `+86${s.slice(1)}` : null; // trunk prefix 0
  if (MOBILE.test(s)) return `+86${s}`;
  if (s.startsWith('86') && NSN.test(s.slice(2))) return `+${s}`;
  return null;
}

/**
 * A called-number prefix as a person types it (national 138…, 0571… with the trunk 0, +86…, 0086…) → the prefix of
 * the stored E.164 form, for searches: '138' → '+86138', '0571' → '+86571', '0044' → '+44'.
 */
export function e164Prefix(typed: string): string {
  const s = typed.replace(/[\s\-().]/g, '');
  if (s.startsWith('+')) return s;
  if (s.startsWith('00')) return `+${s.slice(2)}`;
  if (s.startsWith('0')) return `+86${s.slice(1)}`;
  return `+86${s}`;
}

export function isDomestic(e164: string): boolean {
  return e164.startsWith('+86');
}

/**
 * An E.164 number (as toE164 makes it) without its '+', e.g. '8613800138000': the form blocked prefixes and rate deck
 * prefixes are written in. It only drops the '+' and checks nothing; to turn an arbitrary called number into the
 * digits it is rated by (refusing what is not digits), see ratingDigits in src/rating/normalize.ts.
 */
export function e164Digits(e164: string): string {
  return e164.slice(1);
}

/** A number in the format a carrier gateway expects (gateways.number_format). */
export function formatForGateway(e164: string, format: NumberFormat): string {
  switch (format) {
    case 'e164':
      return e164;
    case 'international00':
      return `00${e164.slice(1)}`;
    case 'national': {
      if (!isDomestic(e164)) return `00${e164.slice(1)}`; // abroad: international prefix from China
      const nsn = e164.slice(3);
      return MOBILE.test(nsn) ? nsn : `0${nsn}`;
    }
  }
}
