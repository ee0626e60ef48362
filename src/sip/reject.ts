/**
 * Refusing an INVITE: the A leg's final response with Reason/Warning (headers.ts), the refusal's announcement when a
 * media server is configured, and the CDR through the session's end path.
 *
 * Invariants:
 * - we send the A leg at most one final response, and none once the caller cancelled (the server answered 487) or
 *   its server was lost (nothing reaches the caller any more);
 * - a refusal past the door ends through the session's one end path (a CDR); before the door (no session) it is
 *   only counted.
 */
import type { Media } from '../media/index.js';
import { metrics } from '../observability/metrics.js';
import { CALLER_CANCEL, type CallContext } from './call-context.js';
import type { Rejection } from './decisions.js';
import { rejectionHeaders } from './headers.js';

export interface RejectDeps {
  /** our User-Agent, the Warning header's agent */
  readonly agent: string;
  readonly media?: Media | null | undefined;
}

/** The A leg's final response for a refusal, unless it has one, the caller cancelled, or its server is lost. */
export function reply(ctx: CallContext, r: Rejection, agent: string): void {
  if (!ctx.res.finalResponseSent && !ctx.canceled && !ctx.lost) ctx.res.send(r.status, r.phrase, { headers: rejectionHeaders(r, agent) });
}

/** Reject: SIP answer, then the CDR through the session's one end path (a session exists past the door). */
export async function rejectCall(ctx: CallContext, r: Rejection, deps: RejectDeps): Promise<void> {
  // the caller gave up while we were deciding: the server already answered 487, record it as canceled
  if (ctx.canceled && ctx.session) return ctx.session.endUnanswered(CALLER_CANCEL);
  if (deps.media) {
    await deps.media.beforeRefusal(ctx.req, ctx.res, r, ctx.tenant, ctx.log);
    if (ctx.canceled && ctx.session) return ctx.session.endUnanswered(CALLER_CANCEL);
  }
  reply(ctx, r, deps.agent);
  ctx.log.info({ status: r.status, reason: r.reason, text: r.text }, 'call rejected');
  if (ctx.session) await ctx.session.endUnanswered({ result: 'rejected', sipStatus: r.status, rejectReason: r.reason, disconnectReason: r.text });
  else metrics.callsTotal.inc({ result: 'rejected', reason: r.reason, sip_class: `${Math.floor(r.status / 100)}xx` });
}
