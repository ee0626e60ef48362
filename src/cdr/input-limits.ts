/**
 * What the SIP door accepts, shared by the embedded edge (400 before any state) and the SIP app
 * (400 before a call session exists, for when the real drachtio-server is the edge). The limits sit below what the
 * outbox validator takes for a CDR (CDR_TEXT_MAX), so a call accepted here can never end in a dead letter; they also
 * bound every map key made of these values. Lengths are in characters, as the validator counts them.
 */
import { CDR_TEXT_MAX } from './types.js';

export const SIP_INPUT_LIMITS = {
  /** Call-ID (the CDR's aCallId; dialog and transaction keys) */
  callId: 256,
  /** From / To / P-Asserted-Identity header values (the CDR's caller comes from From or PAI) */
  nameAddr: CDR_TEXT_MAX,
  /** request URI (the CDR's callee is its user part) */
  requestUri: 256,
  /** From and To tags */
  tag: 128,
} as const;

/** CR, LF and NUL never belong in a header value: header injection, response splitting, PostgreSQL text. */
const FORBIDDEN = /[\r\n\0]/;

export interface SipIdentity {
  callId?: string | undefined;
  requestUri?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  pai?: string | undefined;
  fromTag?: string | undefined;
  toTag?: string | undefined;
}

/** Why this request's identity cannot be accepted (the 400 reason), or undefined when it can. */
export function sipInputProblem(x: SipIdentity): string | undefined {
  const checks: [string, string | undefined, number][] = [
    ['Call-ID', x.callId, SIP_INPUT_LIMITS.callId],
    ['request URI', x.requestUri, SIP_INPUT_LIMITS.requestUri],
    ['From', x.from, SIP_INPUT_LIMITS.nameAddr],
    ['To', x.to, SIP_INPUT_LIMITS.nameAddr],
    ['P-Asserted-Identity', x.pai, SIP_INPUT_LIMITS.nameAddr],
    ['From tag', x.fromTag, SIP_INPUT_LIMITS.tag],
    ['To tag', x.toTag, SIP_INPUT_LIMITS.tag],
  ];
  if (x.callId === '') return 'Call-ID is empty';
  for (const [what, v, max] of checks) {
    if (v === undefined) continue;
    if (FORBIDDEN.test(v)) return `${what} contains CR, LF or NUL`;
    if (v.length > max) return `${what} longer than ${max} characters`;
  }
  return undefined;
}
