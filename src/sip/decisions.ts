/**
 * Pure per-INVITE decisions of the middleware chain: each returns null (go on) or a Rejection that says which
 * SIP status the A leg gets, the metric/CDR reason, and the human text put in Reason and Warning.
 * No I/O here: the app feeds the facts it looked up; unit tests cover every branch.
 */
import type { PromptLabel, RejectReasonLabel } from '../observability/metrics.js';
import type { RefusalReason } from '../charging/types.js';
import type { IngressTrunk, NumberOwner, TenantInfo } from './directory.js';
import { e164Digits, isDomestic } from './normalize.js';
import { sipInputProblem, type SipIdentity } from '../cdr/input-limits.js';

export interface Rejection {
  status: number;
  phrase: string;
  reason: RejectReasonLabel;
  text: string; // why, for Reason text= and Warning
  retryAfter?: number;
  /** the announcement the caller hears (early media) before this refusal, when a media server is configured */
  prompt?: PromptLabel;
}

const PHRASES: Record<number, string> = {
  400: 'Bad Request',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  480: 'Temporarily Unavailable',
  484: 'Address Incomplete',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

function reject(status: number, reason: RejectReasonLabel, text: string, retryAfter?: number): Rejection {
  return { status, phrase: PHRASES[status] ?? 'Rejected', reason, text, ...(retryAfter ? { retryAfter } : {}) };
}

function announced(r: Rejection, prompt: PromptLabel): Rejection {
  return { ...r, prompt };
}

/** Q.850 cause for the Reason header of a rejection (RFC 3326), by the SIP status (RFC 3398 mapping). */
export function q850For(status: number): number {
  switch (status) {
    case 402:
    case 403:
      return 21; // call rejected
    case 404:
      return 1; // unallocated number
    case 484:
      return 28; // invalid number format
    case 480:
      return 18; // no user responding
    default:
      return status >= 500 ? 41 : 31; // temporary failure / normal unspecified
  }
}

/** Input limits at the door: what passes can never make a CDR the outbox refuses. */
export function checkInput(x: SipIdentity): Rejection | null {
  const problem = sipInputProblem(x);
  return problem ? reject(400, 'bad_request', problem) : null;
}

export function checkIngress(trunk: IngressTrunk | null, sourceAddress: string): Rejection | null {
  return trunk ? null : reject(403, 'ingress', `source ${sourceAddress} is not a configured call-center trunk`);
}

/** Caller ID: must be a number held by a tenant, approved, with the tenant active and inside its service period. */
export function checkCaller(callerE164: string | null, owner: NumberOwner | null, now: number): Rejection | null {
  if (!callerE164) return reject(403, 'caller_id', 'caller ID is not a valid number');
  if (!owner || !owner.tenant || owner.state === 'reclaimed') return reject(403, 'caller_id', 'caller ID not held by any tenant');
  if (owner.state === 'pending_review') return reject(403, 'caller_id', 'caller ID not approved (real-name review pending)');
  if (owner.state === 'suspended') return reject(403, 'caller_id', 'caller ID number suspended');
  return checkTenant(owner.tenant, now);
}

export function checkTenant(t: TenantInfo, now: number): Rejection | null {
  if (t.status === 'suspended') return announced(reject(403, 'tenant', 'tenant suspended'), 'tenant_suspended');
  if (t.status === 'terminated') return reject(403, 'tenant', 'tenant terminated');
  if (t.serviceStart && now < t.serviceStart.getTime()) return reject(403, 'tenant', 'service period not started');
  if (t.serviceEnd && now >= t.serviceEnd.getTime()) return reject(403, 'tenant', 'service period ended');
  return null;
}

/** Destination: a valid number, not international unless enabled, not under a blocked prefix (E.164 digits). */
export function checkDestination(calleeE164: string | null, t: TenantInfo): Rejection | null {
  if (!calleeE164) return reject(484, 'no_route', 'destination is not a valid number');
  if (!isDomestic(calleeE164) && !t.allowInternational) return reject(403, 'blocked', 'international calls not enabled');
  const digits = e164Digits(calleeE164);
  const hit = t.blockedPrefixes.find((p) => digits.startsWith(p));
  if (hit !== undefined) return reject(403, 'blocked', `destination prefix ${hit} blocked`);
  return null;
}

/** One formatter per zone (built once: costly per call, docs/performance.md "Profile"). */
const clockFormats = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in an IANA zone. */
export function localMinutes(at: number, timeZone: string): number {
  let f = clockFormats.get(timeZone);
  if (!f) clockFormats.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const parts = f.formatToParts(at);
  const h = Number(parts.find((p) => p.type === 'hour')?.value);
  const m = Number(parts.find((p) => p.type === 'minute')?.value);
  return h * 60 + m;
}

function hhmm(t: string): number {
  const [h, m] = t.split(':');
  return Number(h) * 60 + Number(m);
}

/** Calling hours [from, to) in the service zone; a window with from > to wraps midnight (e.g. 22:00-06:00). */
export function checkHours(t: TenantInfo, now: number, timeZone: string): Rejection | null {
  if (!t.callingHoursFrom || !t.callingHoursTo) return null;
  const m = localMinutes(now, timeZone);
  const from = hhmm(t.callingHoursFrom);
  const to = hhmm(t.callingHoursTo);
  const inside = from <= to ? m >= from && m < to : m >= from || m < to;
  return inside ? null : announced(reject(480, 'hours', `outside calling hours ${t.callingHoursFrom.slice(0, 5)}-${t.callingHoursTo.slice(0, 5)}`), 'outside_hours');
}

export function checkSpendCap(t: TenantInfo, spentTodayFen: bigint): Rejection | null {
  if (t.dailySpendCapFen === null || spentTodayFen < t.dailySpendCapFen) return null;
  return reject(403, 'limit', 'daily spend cap reached');
}

export type Admission = 'ok' | 'cps' | 'concurrency';

export function admissionRejection(a: Admission, t: TenantInfo): Rejection | null {
  if (a === 'cps') return reject(503, 'limit', `calls per second limit ${t.maxCps} reached`, 1);
  if (a === 'concurrency') return reject(503, 'limit', `maximum calls in progress ${t.maxConcurrent} reached`);
  return null;
}

/** The charging engine's refusal as a SIP rejection. */
export function refusalRejection(reason: RefusalReason, detail: string): Rejection {
  switch (reason) {
    case 'no_balance':
      return announced(reject(402, 'no_balance', detail || 'insufficient balance'), 'no_balance');
    case 'suspended':
      return announced(reject(403, 'tenant', detail || 'tenant suspended'), 'tenant_suspended');
    case 'period_not_started':
    case 'period_ended':
      return reject(403, 'tenant', detail || reason.replace(/_/g, ' '));
    case 'no_rate':
      return reject(404, 'no_route', detail || 'no rate for destination');
    case 'limit':
      return reject(503, 'limit', detail || 'limit reached');
    case 'store_down':
      return reject(503, 'store_down', detail || 'charging store unavailable');
  }
}

export function draining(): Rejection {
  return reject(503, 'draining', 'instance draining, try another', 5);
}

export function storeDown(text: string): Rejection {
  return reject(503, 'store_down', text);
}

/** Only a gateway failure (5xx, 408, our own timeout) moves to the next gateway; 4xx/6xx are the callee's answer. */
export function shouldFailover(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}

/** A day: a carrier's Min-SE above it is taken for nonsense, not asked again with. */
const MAX_SESSION_INTERVAL_SECONDS = 86_400;

/**
 * RFC 4028 §7.4: a 422 (Session Interval Too Small) names the carrier's Min-SE. The interval to send the INVITE once
 * more with (that Min-SE, when above ours and at most a day), or null: no second attempt.
 */
export function sessionIntervalRetry(status: number, minSe: number | undefined, ourSeconds: number): number | null {
  return status === 422 && minSe !== undefined && minSe > ourSeconds && minSe <= MAX_SESSION_INTERVAL_SECONDS ? minSe : null;
}
