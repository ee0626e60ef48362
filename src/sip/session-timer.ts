/**
 * RFC 4028 session timers on the carrier leg, as pure functions. We ask the carrier to refresh (refresher=uas) and
 * answer its refreshes ourselves (never passed to the caller). Why the carrier refreshes and not us: drachtio-server
 * keeps refreshing a dialog whose app has died (checked against 0.9.4: re-INVITEs every ~45 s after the app's
 * connection closed), so a refresher on our side would keep a dead instance's carrier leg up for ever. With the
 * carrier refreshing, its refreshes stop being answered when our process dies, and the carrier (or the SIP server's
 * own watchdog) ends the leg. Bounds: docs/sip.md "Orphaned carrier legs".
 */
import type { Headers } from './srf-types.js';

/** RFC 4028's smallest session interval; what we announce as our Min-SE. */
export const MIN_SE = 90;

/** What the B-leg INVITE (and our re-INVITEs toward the carrier) carry. */
export function sessionTimerHeaders(seconds: number): Headers {
  return { 'Session-Expires': `${seconds};refresher=uas`, 'Min-SE': String(MIN_SE) };
}

/**
 * Headers of our 2xx to a session refresh (re-INVITE or UPDATE) from the carrier: the interval it asked for, with the
 * refresher it named (the sender of this request is its UAC; no refresher = uac, RFC 4028 §9), and Require: timer when
 * that is the carrier. Without them the carrier would take the 2xx as "no session timer any more" (§7.4). A request
 * without Session-Expires gets none.
 */
export function refreshAnswerHeaders(sessionExpires: string | undefined): Headers {
  const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(sessionExpires ?? '');
  if (!m) return {};
  const refresher = /refresher\s*=\s*(uas|uac)/i.exec(m[2] ?? '')?.[1]?.toLowerCase() ?? 'uac';
  return { 'Session-Expires': `${m[1]};refresher=${refresher}`, ...(refresher === 'uac' ? { Require: 'timer' } : {}) };
}

/** The Min-SE a 422 (Session Interval Too Small) asks for, or null. */
export function minSeOf(v: string | undefined): number | null {
  const m = /^\s*(\d+)/.exec(v ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * A re-INVITE offer that only refreshes the session: the same SDP session id and version as the previous offer
 * (RFC 3264 §8: an unchanged description keeps its version). It is answered with our current SDP, not relayed.
 */
export function isSessionRefresh(previousOffer: string | undefined, offer: string | undefined): boolean {
  const origin = (sdp: string | undefined): string | null => {
    const m = /^o=\S+ (\S+) (\S+) /m.exec(sdp ?? '');
    return m ? `${m[1]} ${m[2]}` : null;
  };
  const a = origin(previousOffer);
  return a !== null && a === origin(offer);
}
