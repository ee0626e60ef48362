/**
 * Header policy of the B2BUA, as data and pure functions.
 * B leg: an allow-list, not "copy all minus some": From and P-Asserted-Identity are set explicitly to the tenant's
 * number in the gateway's format (srf would otherwise build From from the A leg's PAI, §2 of the drachtio notes),
 * and everything else (the A leg's Session-Expires/Min-SE: session timers are per leg, ours come from session-timer.ts;
 * X-*: internal; Remote-Party-ID, P-Preferred-Identity: caller-ID spoofing) is left behind. `@localhost` is rewritten by the server to its SIP address.
 */
import type { Gateway } from './directory.js';
import { formatForGateway } from './normalize.js';
import { q850For, type Rejection } from './decisions.js';
import type { Headers } from './srf-types.js';
import { sessionTimerHeaders } from './session-timer.js';

/** A-leg headers copied to the B leg as they are (lowercase names as srf parses them). */
const COPIED_TO_B = ['allow'] as const;

function optionTags(v: string | undefined): string[] {
  return (v ?? '').split(',').map((t) => t.trim()).filter(Boolean);
}

/**
 * Supported option tags toward the carrier: the A leg's (session timers are negotiated per leg, never passed through:
 * its 'timer' only counts as ours), plus '100rel' (the SIP server PRACKs reliable provisionals for us, srf sends the
 * PRACK, so a carrier may send its early media reliably, RFC 3262) and 'timer' (RFC 4028, see sessionTimerHeaders).
 */
function bLegSupported(v: string | undefined): string {
  const tags = optionTags(v).filter((t) => !['timer', '100rel'].includes(t.toLowerCase()));
  return [...tags, '100rel', 'timer'].join(', ');
}

/** The caller's INVITE says it can take reliable provisional responses (Supported or Require: 100rel). */
function supports100rel(aHeaders: Record<string, string>): boolean {
  return [...optionTags(aHeaders['supported']), ...optionTags(aHeaders['require'])].some((t) => t.toLowerCase() === '100rel');
}

/**
 * Extra headers on the A-leg response that relays a B-leg response: a reliable provisional from the carrier (RSeq)
 * is relayed reliably (Require: 100rel; the server adds RSeq and retransmits until the caller's PRACK) when the caller
 * supports it; otherwise, and for every other response, as it is.
 */
export function aLegResponseHeaders(aHeaders: Record<string, string>, bRes: { status?: number; has(name: string): boolean }): Headers {
  const s = bRes.status ?? 0;
  return s > 100 && s < 200 && bRes.has('RSeq') && supports100rel(aHeaders) ? { Require: '100rel' } : {};
}

export function gatewayUri(calleeE164: string, gw: Gateway): string {
  const user = formatForGateway(calleeE164, gw.numberFormat);
  return `sip:${user}@${gw.host}:${gw.port};transport=${gw.transport}`;
}

export function bLegHeaders(aHeaders: Record<string, string>, callerE164: string, calleeE164: string, gw: Gateway, userAgent: string, sessionExpires: number): Headers {
  const caller = formatForGateway(callerE164, gw.numberFormat);
  const callee = formatForGateway(calleeE164, gw.numberFormat);
  const h: Headers = {
    From: `<sip:${caller}@localhost>`,
    'P-Asserted-Identity': `<sip:${caller}@localhost>`,
    To: `<sip:${callee}@${gw.host}:${gw.port}>`,
    'User-Agent': userAgent,
  };
  for (const name of COPIED_TO_B) {
    const v = aHeaders[name];
    if (v) h[name.charAt(0).toUpperCase() + name.slice(1)] = v;
  }
  h['Supported'] = bLegSupported(aHeaders['supported']);
  return { ...h, ...sessionTimerHeaders(sessionExpires) };
}

function quoted(text: string): string {
  return text.replace(/["\\\r\n]/g, ' ');
}

function reasonHeader(cause: number, text: string): string {
  return `Q.850;cause=${cause};text="${quoted(text)}"`;
}

/** Reason + Warning (+ Retry-After) on a rejection, so the call center sees why. */
export function rejectionHeaders(r: Rejection, agent: string): Headers {
  const h: Headers = {
    Reason: reasonHeader(q850For(r.status), r.text),
    Warning: `399 ${agent} "${quoted(r.text)}"`,
  };
  if (r.retryAfter) h['Retry-After'] = String(r.retryAfter);
  return h;
}

/** BYE headers when we end a call ourselves (cut-off, operator, drain, error): Q.850 16 normal clearing with why. */
export function byeHeaders(text: string): Headers {
  return { Reason: reasonHeader(16, text) };
}
