/**
 * Messages the stack itself builds: responses to network requests, the non-2xx ACK, CANCEL, the headers it takes
 * from an app's message, and the identifiers (tags, branches, drachtio's time token). Pure functions, no I/O.
 */
import { randomUUID } from 'node:crypto';
import {
  canonicalName, cseqOf, header, headerValues, tagOf, type SipHeader, type SipMessage, type SipRequest, type SipResponse,
} from './sip/message.js';

export const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 183: 'Session Progress', 200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout', 481: 'Call/Transaction Does Not Exist',
  483: 'Too Many Hops', 486: 'Busy Here', 487: 'Request Terminated', 500: 'Server Internal Error', 503: 'Service Unavailable',
};

/** drachtio's time token: `HH:MM:SS.micro`, UTC. */
export function stackTime(d = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}`;
}

export const newTag = (): string => randomUUID().replace(/-/g, '').slice(0, 12);
export const newBranch = (): string => `z9hG4bK${randomUUID().replace(/-/g, '')}`;

/** A response to a network request (Via, From, To, Call-ID, CSeq copied; RFC 3261 §8.2.6.2); To gets a tag above 100. */
export function responseTo(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers = req.headers.filter((h) => ['via', 'from', 'call-id', 'cseq'].includes(canonicalName(h.name)))
    .map((h) => ({ name: canonicalName(h.name) === 'call-id' ? 'Call-ID' : h.name, value: h.value }));
  let to = header(req, 'to') ?? '';
  if (status > 100 && tagOf(to) === undefined) to += `;tag=${toTag ?? newTag()}`;
  headers.splice(headers.findIndex((h) => canonicalName(h.name) === 'call-id'), 0, { name: 'To', value: to });
  return { kind: 'response', status, reason: reason ?? REASONS[status] ?? 'Unknown', headers, body: '' };
}

/** A response the stack reports to the app for its own request (timeout 408, transport failure 503). */
export function localFailure(req: SipRequest, status: number): SipResponse {
  return {
    kind: 'response', status, reason: REASONS[status] ?? 'Request Failed', body: '',
    headers: ['via', 'from', 'to', 'call-id', 'cseq'].map((n) => ({ name: n === 'call-id' ? 'Call-ID' : n[0]!.toUpperCase() + n.slice(1), value: header(req, n) ?? '' })),
  };
}

/** ACK for a non-2xx final: hop-by-hop, same branch, part of the INVITE transaction (RFC 3261 §17.1.1.3). */
export function nonSuccessAck(inv: SipRequest, res: SipResponse): SipRequest {
  const headers = [
    { name: 'Via', value: headerValues(inv, 'via')[0]! },
    ...inv.headers.filter((h) => canonicalName(h.name) === 'route'),
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: header(inv, 'from')! },
    { name: 'To', value: header(res, 'to')! },
    { name: 'Call-ID', value: header(inv, 'call-id')! },
    { name: 'CSeq', value: `${cseqOf(inv)!.seq} ACK` },
  ];
  return { kind: 'request', method: 'ACK', uri: inv.uri, headers, body: '' };
}

/** CANCEL for an INVITE we sent (RFC 3261 §9.1); only Reason / X-Reason are taken from the app, as drachtio does. */
export function cancelRequest(inv: SipRequest, appMsg: SipRequest): SipRequest {
  const copy = appMsg.headers.filter((h) => ['reason', 'x-reason'].includes(canonicalName(h.name)));
  return {
    kind: 'request', method: 'CANCEL', uri: inv.uri, body: '',
    headers: [
      { name: 'Via', value: headerValues(inv, 'via')[0]! },
      ...inv.headers.filter((h) => canonicalName(h.name) === 'route'),
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: header(inv, 'from')! },
      { name: 'To', value: header(inv, 'to')! },
      { name: 'Call-ID', value: header(inv, 'call-id')! },
      { name: 'CSeq', value: `${cseqOf(inv)!.seq} CANCEL` },
      ...copy,
    ],
  };
}

/** Headers an app may not set: the stack owns them (drachtio `makeTags`). */
const IMMUTABLE = new Set(['via', 'route', 'rseq', 'record-route', 'content-length']);

/** The app's headers minus the ones the stack owns, `@localhost` rewritten to our SIP address `host:port`. */
export function appHeaders(msg: SipMessage, host: string, port: number): SipHeader[] {
  const hp = `@${host}:${port}`;
  return msg.headers
    .filter((h) => !IMMUTABLE.has(canonicalName(h.name)))
    .map((h) => ['from', 'to', 'contact', 'p-asserted-identity'].includes(canonicalName(h.name))
      ? { name: h.name, value: h.value.replace(/@localhost(?![\w.-])/g, hp) } : h);
}
