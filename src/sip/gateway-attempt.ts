/**
 * One B-leg attempt toward one carrier gateway (tryGateway), in named steps. A gateway that sends nothing at all (not
 * even 100 Trying) within sip.gatewayTimeoutSeconds is abandoned at once (408) so the next one can be tried; its
 * INVITE is cancelled. Once the B leg is cancelled (caller CANCEL, operator cut, drain) the attempt ends when its
 * final response arrives, or after sip.cancelTimeoutSeconds if none is ever delivered (RFC 3261 §9.1), so the
 * session always ends and releases its holds. An abandoned or cancelled gateway that still answers is refused
 * (localSdpA throws), so srf tears that late B leg down; should the attempt still settle with both legs after we
 * stopped waiting, both are hung up.
 *
 * Invariants:
 * - an attempt waits for exactly one of: the B leg's final answer, gatewayTimeoutSeconds of silence (408),
 *   cancelTimeoutSeconds after a CANCEL (487), the loss of its server (503); when it returns, every timer and
 *   listener it set is gone, ctx.onLost no longer points at it and the session holds no pending B leg of it;
 * - a B leg that answers after the attempt was abandoned, cancelled or given up is never connected;
 * - the B leg goes through the server the A leg came from, with the headers of the header policy (headers.ts).
 */
import type { Config } from '../config/config.js';
import { metrics } from '../observability/metrics.js';
import type { CallContext, Outcome } from './call-context.js';
import type { CallSession } from './call-session.js';
import type { Gateway } from './directory.js';
import { aLegResponseHeaders, bLegHeaders, gatewayUri } from './headers.js';
import { minSeOf } from './session-timer.js';
import type { B2buaCallbacks, B2buaOptions, Dialog, Headers, SipError, SipMessage, SrfRequest, SrfResponse } from './srf-types.js';

export interface AttemptDeps {
  readonly config: Pick<Config, 'sip'>;
  /** our User-Agent on the B leg */
  readonly agent: string;
}

/** One B-leg attempt with the given session interval; resolves with its outcome, never rejects. */
export function tryGateway(ctx: CallContext, gw: Gateway, sessionExpires: number, deps: AttemptDeps): Promise<Outcome> {
  return new GatewayAttempt(ctx, gw, sessionExpires, deps).run();
}

const notYet = (_o: Outcome): void => undefined;

class GatewayAttempt {
  private readonly ctx: CallContext;
  private readonly gw: Gateway;
  private readonly sessionExpires: number;
  private readonly deps: AttemptDeps;
  private readonly s: CallSession;
  // ctx's are dropped once a call is answered (releaseInvite); a late attempt still has these
  private readonly aReq: SrfRequest;
  private readonly aRes: SrfResponse;
  private responded = false;
  private abandoned = false;
  private stoppedWaiting = false;
  private uacReq: SrfRequest | null = null;
  private answerAt = 0;
  private resolveGivenUp: (o: Outcome) => void = notYet;
  private silenceTimer: NodeJS.Timeout | null = null;
  private cancelTimer: NodeJS.Timeout | null = null;

  /** Stop waiting for the B leg with this outcome (silence, no 487 after CANCEL, server lost): ctx.onLost meanwhile. */
  private readonly stopWaiting = (o: Outcome): void => {
    this.stoppedWaiting = true;
    this.resolveGivenUp(o);
  };

  /** The B leg is cancelled (the caller's CANCEL srf relays, or ours): bound the wait for its final response. */
  private readonly cancelled = (): void => {
    this.abandoned = true;
    this.cancelTimer ??= setTimeout(() => this.noFinalAfterCancel(), this.deps.config.sip.cancelTimeoutSeconds * 1000);
  };

  constructor(ctx: CallContext, gw: Gateway, sessionExpires: number, deps: AttemptDeps) {
    this.ctx = ctx;
    this.gw = gw;
    this.sessionExpires = sessionExpires;
    this.deps = deps;
    this.s = ctx.session!;
    this.aReq = ctx.req;
    this.aRes = ctx.res;
  }

  async run(): Promise<Outcome> {
    const { ctx } = this;
    const givenUp = new Promise<Outcome>((resolve) => (this.resolveGivenUp = resolve));
    this.silenceTimer = setTimeout(() => this.silent(), this.deps.config.sip.gatewayTimeoutSeconds * 1000);
    this.aReq.on('cancel', this.cancelled); // srf's createB2BUA relays the caller's CANCEL to the B leg itself
    // its server is gone: nothing more will come for this attempt
    if (ctx.lost) this.stopWaiting({ ok: false, status: 503, reason: ctx.lost });
    else ctx.onLost = this.stopWaiting;
    const attempt = this.send();
    try {
      const out = await Promise.race([attempt, givenUp]);
      if (!out.ok) ctx.log.info({ gateway: this.gw.name, status: out.status, abandoned: this.abandoned }, 'gateway attempt failed');
      return out;
    } finally {
      this.cleanUp();
    }
  }

  /** The B-leg INVITE through the A leg's server; its outcome once srf settles it. */
  private send(): Promise<Outcome> {
    const { ctx, gw } = this;
    this.s.facts.gateway = gw.name;
    const uri = gatewayUri(ctx.calleeE164!, gw);
    ctx.log.debug({ gateway: gw.name, uri }, 'trying gateway');
    return ctx.server.srf
      .createB2BUA(this.aReq, this.aRes, uri, this.options(), this.callbacks())
      .then((legs) => this.answered(legs), failureOf);
  }

  private options(): B2buaOptions {
    const aHeaders = this.aReq.headers;
    return {
      headers: bLegHeaders(aHeaders, this.ctx.callerE164!, this.ctx.calleeE164!, this.gw, this.deps.agent, this.sessionExpires),
      passFailure: false,
      responseHeaders: (bRes) => aLegResponseHeaders(aHeaders, bRes),
      localSdpA: (sdpB: string) => {
        if (this.abandoned) throw new Error(`gateway ${this.gw.name} answered after it was abandoned or cancelled`);
        return sdpB;
      },
    };
  }

  private callbacks(): B2buaCallbacks {
    return {
      cbRequest: (err, r) => this.requestSent(err, r),
      cbFinalizedUac: (uac) => this.finalized(uac),
    };
  }

  /** The B-leg INVITE went out (or could not): watch its responses, make it cancellable by a cut. */
  private requestSent(err: Error | null, r: SrfRequest): void {
    const { ctx, s } = this;
    if (err) {
      ctx.log.warn({ err, gateway: this.gw.name }, 'B-leg INVITE not sent');
      return;
    }
    this.uacReq = r;
    // every response of the B leg, also a 183 with SDP (srf's createB2BUA skips cbProvisional for those)
    r.on('response', (res: SipMessage) => this.provisional(res));
    s.trying({
      cancel: (headers: Headers) => {
        r.cancel({ headers });
        this.cancelled();
      },
    });
    s.facts.bCallId = r.get('Call-ID') ?? null;
    // a CANCEL or cut that came while the INVITE was being sent: srf's own relay was not listening yet
    if (ctx.canceled || s.cutBeforeAnswer) {
      r.cancel();
      this.cancelled();
    } else if (this.abandoned) r.cancel(); // the silent-gateway timer gave up on it already
  }

  /** A 1xx above 100 is the gateway's first response (stops the silence timer); the first 18x stamps ring_at. */
  private provisional(res: SipMessage): void {
    const status = res.status ?? 0;
    if (status <= 100 || status >= 200) return;
    this.responded = true;
    const f = this.s.facts;
    if (status >= 180 && f.ringAt === null) {
      f.ringAt = Date.now();
      metrics.postDialDelay.observe((f.ringAt - f.inviteAt) / 1000);
    }
  }

  /** The B leg's 200 OK: the answer instant (metering starts there). */
  private finalized(uac: Dialog): void {
    const f = this.s.facts;
    this.responded = true;
    this.answerAt = Date.now();
    f.bCallId = uac.sip.callId;
    if (f.ringAt === null) metrics.postDialDelay.observe((this.answerAt - f.inviteAt) / 1000);
  }

  private answered({ uas, uac }: { uas: Dialog; uac: Dialog }): Outcome {
    if (this.stoppedWaiting) {
      this.ctx.log.warn({ gateway: this.gw.name }, 'B leg connected after the attempt was given up: both legs hung up');
      for (const d of [uac, uas]) d.destroy().catch(() => undefined);
    }
    return { ok: true, uas, uac, answerAt: this.answerAt || Date.now(), sessionExpires: this.sessionExpires };
  }

  /** Nothing at all from the gateway within gatewayTimeoutSeconds: cancel it, try the next one. */
  private silent(): void {
    if (this.responded) return;
    this.abandoned = true;
    try {
      this.uacReq?.cancel();
    } catch (err) {
      this.ctx.log.debug({ err }, 'cancel of silent gateway failed');
    }
    this.stopWaiting({ ok: false, status: 408, reason: 'gateway timeout' });
  }

  private noFinalAfterCancel(): void {
    this.ctx.log.warn({ gateway: this.gw.name, seconds: this.deps.config.sip.cancelTimeoutSeconds }, 'no final response after CANCEL: B leg given up');
    this.stopWaiting({ ok: false, status: 487, reason: 'no final response after CANCEL' });
  }

  private cleanUp(): void {
    clearTimeout(this.silenceTimer!);
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.aReq.removeListener('cancel', this.cancelled);
    if (this.ctx.onLost === this.stopWaiting) this.ctx.onLost = null;
    this.s.trying(null);
  }
}

/** srf's rejection of createB2BUA (the B leg's final failure, or an error) as an outcome; a 422 keeps its Min-SE. */
function failureOf(e: unknown): Outcome {
  const err = e as SipError;
  const minSe = err.status === 422 ? minSeOf(err.res?.get('Min-SE')) : null;
  return { ok: false, status: typeof err.status === 'number' ? err.status : 500, ...(err.reason ? { reason: err.reason } : {}), ...(minSe ? { minSe } : {}) };
}
