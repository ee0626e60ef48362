/**
 * The context of one INVITE in the SIP app: what the door, the stages, the routing and the lost-server handling read
 * and write about a call beside its CallSession (which holds the CDR facts and the one end path).
 *
 * Invariants:
 * - `session` is set once the INVITE passed the door (ingress trunk, input limits), together with `trunk`, and never
 *   changes after; from then on the call ends only through that session's end path (end / endUnanswered).
 * - `tenant` and `callerE164` are set once identifyCaller passed, `calleeE164` once checkDestinationAndTime passed;
 *   later stages and the routing run only after those passed.
 * - `lost` is set at most once (the first reason stays) and never cleared.
 * - `req`/`res` are dropped only once the call is answered (releaseInvite): nothing after answer reads them.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import type { CallSession, Unanswered } from './call-session.js';
import type { IngressTrunk, TenantInfo } from './directory.js';
import { releaseDialogMessages } from './release.js';
import type { SipServer } from './servers.js';
import type { Dialog, SrfRequest, SrfResponse } from './srf-types.js';

export interface CallContext {
  /** the server the A leg came through: the B leg goes through it too */
  server: SipServer;
  /** why the call cannot go on: its server's connection was lost (lost-server.ts); null while it can */
  lost: string | null;
  /**
   * the B-leg attempt in progress stops waiting through this when the server is lost (markLost). Set only for the
   * attempt's duration: a never-settling promise the attempts subscribed to kept every attempt's closures (and the
   * INVITE messages they hold) alive for the call's whole life.
   */
  onLost: ((o: Outcome) => void) | null;
  /** A and B dialog ids once answered, to hang them up through the server after it reconnects */
  dialogIds: string[];
  req: SrfRequest;
  res: SrfResponse;
  log: Logger;
  now: number;
  canceled: boolean;
  trunk: IngressTrunk | null;
  tenant: TenantInfo | null;
  callerE164: string | null;
  calleeE164: string | null;
  session: CallSession | null;
}

/** How one B-leg attempt ended: both legs up, or the status (and a 422's Min-SE) it failed with. */
export type Outcome = { ok: true; uas: Dialog; uac: Dialog; answerAt: number; sessionExpires: number } | { ok: false; status: number; reason?: string; minSe?: number };

/** The caller gave up (the server answered its CANCEL with 487): one shared value, read only by endUnanswered. */
export const CALLER_CANCEL: Readonly<Unanswered> = Object.freeze({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });

/** Our id of a call: stable for the A leg's Call-ID + From tag (retransmissions and restarts map to the same id). */
export function callIdFor(aCallId: string, fromTag: string): string {
  return createHash('sha256').update(`${aCallId}\n${fromTag}`).digest('hex').slice(0, 32);
}

export function newCallContext(server: SipServer, req: SrfRequest, res: SrfResponse, log: Logger): CallContext {
  return {
    server, lost: null, onLost: null, dialogIds: [],
    req, res, log, now: Date.now(), canceled: false,
    trunk: null, tenant: null, callerE164: null, calleeE164: null, session: null,
  };
}

/**
 * Once answered, the stages and the routing are over and nothing reads the A leg's INVITE (ctx.req/ctx.res) or
 * the dialogs' formative messages any more: drop them, so a live call does not keep both legs' INVITE and 200
 * (and createB2BUA's closures hanging off them) for its whole life. ctx stays in the book for serverDown.
 */
export function releaseInvite(ctx: CallContext, uas: Dialog, uac: Dialog): void {
  releaseDialogMessages(uas);
  releaseDialogMessages(uac);
  const c = ctx as { req: SrfRequest | null; res: SrfResponse | null };
  c.req = null;
  c.res = null;
}
