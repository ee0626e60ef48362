/**
 * Digits used to rate a called number, from any form a caller of the charging engine may pass: international form
 * without '+' or '00' (e.g. +8613800138000, 008613800138000 and 8613800138000 all rate as 8613800138000). Deck
 * prefixes are in the same form. A number that is not digits (after the optional '+') is refused: it cannot be rated.
 * This one validates; the SIP app's e164Digits (src/sip/normalize.ts) only drops the '+' of a number it already made
 * E.164, for which both give the same digits.
 */
export function ratingDigits(called: string): string | null {
  const s = called.trim();
  const m = /^\+?([0-9]{1,32})$/.exec(s);
  if (!m) return null;
  const d = m[1]!;
  return d.startsWith('00') ? d.slice(2) || null : d;
}
