/**
 * Routing and failover of a granted call: its carrier gateways in order (orderGateways: priority, weight, gateways
 * down by OPTIONS last), one attempt each (gateway-attempt.ts), once more with the carrier's Min-SE after a 422
 * (RFC 4028 §7.4); then the outcome either connects the call or ends it unanswered.
 *
 * Invariants:
 * - a call reaches a gateway only after authorize granted it, with its caller and callee identified (asserted on
 *   entry: a violation would place a carrier call nobody pays for);
 * - the next gateway is tried only after a 5xx, 408 or silence (decisions.shouldFailover), never once the caller
 *   cancelled, the call was cut or its server was lost; a gateway is asked again at most once, after its 422;
 * - every route ends in exactly one of: the call connected (CallSession.connected, metered from the B leg's answer),
 *   or the session's endUnanswered with at most one final response to the A leg.
 */
import assert from 'node:assert';
import type { CallContext, Outcome } from './call-context.js';
import { CALLER_CANCEL, releaseInvite } from './call-context.js';
import * as decide from './decisions.js';
import type { Directory, Gateway } from './directory.js';
import { tryGateway, type AttemptDeps } from './gateway-attempt.js';
import { orderGateways } from './gateways.js';
import type { LostServers } from './lost-server.js';
import { lostUnanswered } from './lost-server.js';
import { rejectCall, reply, type RejectDeps } from './reject.js';

export interface RouteDeps extends AttemptDeps, RejectDeps {
  readonly directory: Pick<Directory, 'gateways'>;
  /** up by its OPTIONS pings (gateways.ts GatewayHealth) */
  readonly isGatewayUp: (g: Gateway) => boolean;
  readonly lost: Pick<LostServers, 'lostAnswered'>;
}

export async function route(ctx: CallContext, deps: RouteDeps): Promise<void> {
  assert(ctx.session?.granted === true, 'route() entered without a session that authorize granted');
  assert(ctx.callerE164 !== null && ctx.calleeE164 !== null && ctx.tenant !== null, 'route() entered before the caller and callee were identified');
  const list = orderGateways(await deps.directory.gateways(), deps.isGatewayUp);
  if (list.length === 0) return rejectCall(ctx, { status: 503, phrase: 'Service Unavailable', reason: 'no_route', text: 'no carrier gateway configured' }, deps);
  // each gateway in turn until one answers, one gives the callee's answer (4xx/6xx), or the call stops
  const ours = deps.config.sip.sessionExpiresSeconds;
  let last: Outcome = { ok: false, status: 503 };
  for (const gw of list) {
    if (stopped(ctx)) break;
    last = await tryGateway(ctx, gw, ours, deps);
    const retryWith = last.ok ? null : decide.sessionIntervalRetry(last.status, last.minSe, ours);
    if (retryWith !== null && !stopped(ctx)) {
      ctx.log.info({ gateway: gw.name, minSe: retryWith }, 'carrier asks for a longer session interval: trying again');
      last = await tryGateway(ctx, gw, retryWith, deps);
    }
    if (last.ok || stopped(ctx) || !decide.shouldFailover(last.status)) break;
  }
  return last.ok ? connect(ctx, last, deps) : endUnrouted(ctx, last, deps);
}

/** The caller cancelled, the call was cut, or its server was lost: no (further) gateway is tried. */
function stopped(ctx: CallContext): boolean {
  return Boolean(ctx.canceled || ctx.session!.cutBeforeAnswer || ctx.lost);
}

/** Both legs up: metering starts (with the tenant's low-credit warning, if any). */
async function connect(ctx: CallContext, out: Extract<Outcome, { ok: true }>, deps: RouteDeps): Promise<void> {
  const s = ctx.session!;
  ctx.log.info({ gateway: s.facts.gateway }, 'call answered');
  ctx.dialogIds = [out.uas.id, out.uac.id];
  releaseInvite(ctx, out.uas, out.uac);
  await s.connected(out.uas, out.uac, out.answerAt, deps.media?.lowCredit(ctx.tenant!, ctx.log), out.sessionExpires);
  // answered just as its server was lost: it cannot be heard from any more, end it like the others
  if (ctx.lost) await deps.lost.lostAnswered(ctx);
}

/** No gateway connected the call: why decides its CDR and what the caller hears. */
function endUnrouted(ctx: CallContext, last: Extract<Outcome, { ok: false }>, deps: RouteDeps): Promise<void> {
  const s = ctx.session!;
  if (ctx.lost) return lostUnanswered(ctx);
  if (ctx.canceled) return s.endUnanswered(CALLER_CANCEL);
  if (s.cutBeforeAnswer) {
    const cut = s.cutBeforeAnswer;
    reply(ctx, { status: 503, phrase: 'Service Unavailable', reason: 'tenant', text: cut.reason }, deps.agent);
    return s.endUnanswered({ result: 'rejected', sipStatus: 503, rejectReason: 'tenant', disconnectReason: cut.reason });
  }
  if (!ctx.res.finalResponseSent) ctx.res.send(last.status, last.reason);
  return s.endUnanswered({ result: 'failed', sipStatus: last.status, disconnectReason: last.reason ?? `gateway ${last.status}` });
}
