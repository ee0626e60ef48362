/**
 * Header policy of the B2BUA, as data and pure functions.
 * B leg: an allow-list, not "copy all minus some": From and P-Asserted-Identity are set explicitly to the tenant's
 * number in the gateway's format (srf would otherwise build From from the A leg's PAI, §2 of the drachtio notes),
 * and everything else (Session-Expires/Min-SE: session timers belong to the server; X-*: internal; Remote-Party-ID,
 * P-Preferred-Identity: caller-ID spoofing) is left behind. `@localhost` is rewritten by the server to its SIP address.
 */
import type { Gateway } from './directory.js';
import { formatForGateway } from './normalize.js';
import { q850For, type Rejection } from './decisions.js';
import type { Headers } from './srf-types.js';

/** A-leg headers copied to the B leg as they are (lowercase names as srf parses them). */
export const COPIED_TO_B = ['allow'] as const;

/** Supported option tags we pass on; 'timer' is dropped because session timers are the server's job. */
function supportedWithoutTimer(v: string | undefined): string | null {
  if (!v) return null;
  const tags = v.split(',').map((t) => t.trim()).filter((t) => t && t.toLowerCase() !== 'timer');
  return tags.length ? tags.join(', ') : null;
}

export function gatewayUri(calleeE164: string, gw: Gateway): string {
  const user = formatForGateway(calleeE164, gw.numberFormat);
  return `sip:${user}@${gw.host}:${gw.port};transport=${gw.transport}`;
}

export function bLegHeaders(aHeaders: Record<string, string>, callerE164: string, calleeE164: string, gw: Gateway, userAgent: string): Headers {
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
  const supported = supportedWithoutTimer(aHeaders['supported']);
  if (supported) h['Supported'] = supported;
  return h;
}

function quoted(text: string): string {
  return text.replace(/["\\\r\n]/g, ' ');
}

export function reasonHeader(cause: number, text: string): string {
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
