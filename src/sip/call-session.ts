/**
 * One call, from admission to CDR. Every way a call can end goes through ONE idempotent path, end():
 * either side's BYE, balance cut-off, operator suspension, drain, errors, and the unanswered outcomes
 * (rejected after admission, failed, canceled). end() stops metering, sends BYE on the legs still up, releases
 * the tenant's limit slot, settles through the charging engine (CDR + ledger via the outbox) and updates metrics.
 *
 * srf pitfall handled here: a dialog emits 'destroy' only for the REMOTE side's BYE, never for our own destroy(),
 * so the handlers of both legs and every internal cause call end() directly.
 */
import type { CallFacts, CallResult, DisconnectSide } from '../cdr/types.js';
import type { ChargingEngine, LowCreditWarning, Metering } from '../charging/types.js';
import { metrics, type RejectReasonLabel } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import { byeHeaders } from './headers.js';
import type { Limits } from './limits.js';
import type { Dialog, Headers, SipMessage, SrfRequest } from './srf-types.js';
import { isSessionRefresh, refreshAnswerHeaders, sessionTimerHeaders } from './session-timer.js';

export interface EndCause {
  side: DisconnectSide;
  reason: string; // disconnect reason in the CDR, e.g. 'caller BYE', 'balance exhausted'
  byeText?: string; // Reason text for the BYEs we send; defaults to reason
}

export interface Unanswered {
  result: Exclude<CallResult, 'answered'>;
  sipStatus: number;
  rejectReason?: RejectReasonLabel | null;
  disconnectReason?: string | null;
}

/** The B-leg INVITE in flight: cancelling it also starts the bound on waiting for its final response. */
export interface PendingB {
  cancel(headers: Headers): void;
}

/** The low-credit warning of a call (src/media): played to the caller while the call goes on; never awaited. */
export interface LowCreditAnnouncer {
  leadMs: number;
  warn(uas: Dialog, uac: Dialog, signal: AbortSignal): Promise<unknown>;
}

export interface CallSessionDeps {
  charging: ChargingEngine;
  limits: Limits;
  logger: Logger;
  failurePolicy: 'terminate' | 'continue';
  onEnded(s: CallSession): void;
}

function sipClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

export class CallSession {
  readonly facts: CallFacts;
  private uas: Dialog | null = null;
  private uac: Dialog | null = null;
  private metering: Metering | null = null;
  private pendingB: PendingB | null = null;
  private ending: Promise<void> | null = null;
  /** aborted when the call ends (stops a low-credit warning in progress) */
  private endSignal: AbortController | null = null;
  private grantedByCharging = false;
  private admitted = false;
  /** Set when something asked the call to end before it was answered (operator, drain). */
  cutBeforeAnswer: EndCause | null = null;

  constructor(
    private readonly deps: CallSessionDeps,
    facts: Omit<CallFacts, 'endAt' | 'sipStatus' | 'result' | 'rejectReason' | 'disconnectSide' | 'disconnectReason'>,
  ) {
    this.facts = { ...facts, endAt: 0, sipStatus: 0, result: 'rejected', rejectReason: null, disconnectSide: null, disconnectReason: null };
    metrics.activeCalls.inc();
  }

  /** The tenant, once the caller ID identified it (null before). */
  get tenantId(): string | null {
    return this.facts.tenantId;
  }

  get callId(): string {
    return this.facts.callId;
  }

  get ended(): boolean {
    return this.ending !== null;
  }

  get answered(): boolean {
    return this.uas !== null;
  }

  /** The charging engine granted the call (markGranted): only such a call may reach a carrier. */
  get granted(): boolean {
    return this.grantedByCharging;
  }

  markAdmitted(): void {
    this.admitted = true;
  }

  /** The charging engine granted the call: from now on it is finished with finish(), not recordRejected(). */
  markGranted(): void {
    this.grantedByCharging = true;
  }

  /** The B-leg INVITE in flight (to CANCEL it on an operator cut before answer). */
  trying(b: PendingB | null): void {
    this.pendingB = b;
  }

  /** Ask the call to end. Answered: tear down now. Not yet answered: cancel the B leg; routing sees cutBeforeAnswer. */
  cut(cause: EndCause): Promise<void> {
    if (this.answered) return this.end(cause);
    if (!this.cutBeforeAnswer) this.cutBeforeAnswer = cause;
    try {
      this.pendingB?.cancel(byeHeaders(cause.byeText ?? cause.reason));
    } catch (err) {
      this.deps.logger.debug({ err }, 'cancel of B leg failed (already final)');
    }
    return Promise.resolve();
  }

  /** Both legs are up: wire BYE/re-INVITE handling and start metering (with the low-credit warning if given). */
  /** sessionExpires: the session interval agreed with the carrier; our re-INVITEs toward it carry it again. */
  async connected(uas: Dialog, uac: Dialog, answerAt: number, lowCredit?: LowCreditAnnouncer, sessionExpires?: number): Promise<void> {
    this.uas = uas;
    this.uac = uac;
    this.facts.answerAt = answerAt;
    if (this.facts.gateway) metrics.activeCallsByGateway.inc({ gateway: this.facts.gateway });
    uas.on('destroy', (bye?: SipMessage) => void this.end(byeCause(bye, 'caller')));
    uac.on('destroy', (bye?: SipMessage) => void this.end(byeCause(bye, 'callee')));
    relayModify(uas, uac, this.deps.logger, sessionExpires ? sessionTimerHeaders(sessionExpires) : {});
    answerCarrier(uac, uas, this.deps.logger);
    if (this.cutBeforeAnswer) return this.end(this.cutBeforeAnswer);
    let warning: LowCreditWarning | undefined;
    if (lowCredit) {
      const ended = (this.endSignal = new AbortController());
      warning = {
        leadMs: lowCredit.leadMs,
        onWarning: () => {
          if (!this.ending) void lowCredit.warn(uas, uac, ended.signal);
        },
      };
    }
    try {
      this.metering = await this.deps.charging.answered(this.callId, answerAt, (cutAtMs) => {
        metrics.cutoffsTotal.inc();
        metrics.cutoffLateness.observe(Math.max(0, Date.now() - cutAtMs) / 1000);
        void this.end({ side: 'system', reason: 'balance exhausted' });
      }, warning);
      if (this.ending) this.metering.stop(); // the call ended while metering was starting
    } catch (err) {
      this.deps.logger.error({ err }, 'metering could not start');
      if (this.deps.failurePolicy === 'terminate') await this.end({ side: 'system', reason: 'charging store unavailable' });
    }
  }

  /** End an answered call (idempotent: the first cause wins, later calls wait for the same settlement). */
  end(cause: EndCause): Promise<void> {
    if (!this.ending) this.ending = this.doEnd(cause);
    return this.ending;
  }

  /** End a call that was never answered (idempotent, same path as end()). */
  endUnanswered(u: Unanswered): Promise<void> {
    if (!this.ending) this.ending = this.finishUnanswered(u);
    return this.ending;
  }

  private async doEnd(cause: EndCause): Promise<void> {
    const endAt = Date.now();
    this.metering?.stop();
    this.endSignal?.abort();
    const headers = byeHeaders(cause.byeText ?? cause.reason);
    const legs: Dialog[] = [];
    if (this.uas && cause.side !== 'caller') legs.push(this.uas);
    if (this.uac && cause.side !== 'callee') legs.push(this.uac);
    const results = await Promise.allSettled(legs.map((d) => d.destroy({ headers })));
    for (const r of results) if (r.status === 'rejected') this.deps.logger.debug({ err: r.reason }, 'BYE not sent (leg already gone)');
    Object.assign(this.facts, { endAt, sipStatus: 200, result: 'answered', disconnectSide: cause.side, disconnectReason: cause.reason });
    if (this.facts.answerAt !== null) metrics.callDuration.observe(Math.max(0, endAt - this.facts.answerAt) / 1000);
    if (this.facts.gateway) metrics.activeCallsByGateway.dec({ gateway: this.facts.gateway });
    metrics.callsTotal.inc({ result: 'answered', reason: 'none', sip_class: '2xx' });
    this.deps.logger.info({ side: cause.side, reason: cause.reason }, 'call ended');
    await this.settle();
  }

  private async finishUnanswered(u: Unanswered): Promise<void> {
    this.metering?.stop();
    Object.assign(this.facts, {
      endAt: Date.now(), sipStatus: u.sipStatus, result: u.result, rejectReason: u.rejectReason ?? null,
      disconnectSide: u.result === 'canceled' ? 'caller' : u.result === 'failed' ? 'callee' : 'system',
      disconnectReason: u.disconnectReason ?? null,
    });
    metrics.callsTotal.inc({ result: u.result, reason: u.rejectReason ?? 'none', sip_class: sipClass(u.sipStatus) });
    this.deps.logger.info({ result: u.result, status: u.sipStatus, reason: u.rejectReason ?? u.disconnectReason }, 'call not answered');
    await this.settle();
  }

  private async settle(): Promise<void> {
    metrics.activeCalls.dec();
    try {
      if (this.grantedByCharging) {
        const s = await this.deps.charging.finish({ ...this.facts });
        // a duplicate was settled (and its spend counted) by another instance's lease sweeper
        if (s.chargeFen > 0n && !s.duplicate && this.tenantId) await this.deps.limits.addSpend(this.tenantId, s.chargeFen).catch((err: unknown) => this.deps.logger.warn({ err }, 'daily spend not recorded'));
        this.deps.logger.info({ chargeFen: s.chargeFen.toString(), billableSeconds: s.billableSeconds, duplicate: s.duplicate }, 'call settled');
      } else {
        await this.deps.charging.recordRejected({ ...this.facts });
      }
    } catch (err) {
      // the engine keeps the call in its Redis state; its reclaim of dead calls settles it later
      this.deps.logger.error({ err, facts: this.facts }, 'settlement failed');
    }
    if (this.admitted && this.tenantId) await this.deps.limits.release(this.tenantId, this.callId).catch((err: unknown) => this.deps.logger.warn({ err }, 'limit slot not released (lease will expire)'));
    this.deps.onEnded(this);
  }
}

/**
 * Why a leg ended by a BYE we did not send. The SIP server may end a dialog by itself (session timer expired, no ACK)
 * and tells the app with an `unsolicited` BYE whose source is `application` (srf's req.meta): then the system ended
 * it, for the reason the server gives; otherwise that party hung up.
 */
function byeCause(bye: SipMessage | undefined, party: 'caller' | 'callee'): EndCause {
  const text = reasonText(bye);
  if ((bye as { meta?: { source?: string } } | undefined)?.meta?.source === 'application') {
    const why = (text ?? 'ended by the SIP server').toLowerCase();
    return { side: 'system', reason: `${party} leg: ${why}`, byeText: why };
  }
  return { side: party, reason: `${party} BYE`, byeText: text ?? `${party} hung up` };
}

function reasonText(msg: SipMessage | undefined): string | undefined {
  const r = msg?.get?.('Reason');
  const m = r ? /text="([^"]*)"/.exec(r) : null;
  return m?.[1];
}

/** Pass the caller's re-INVITEs on to the carrier (hold/codec changes), with our session-timer headers (RFC 4028). */
function relayModify(from: Dialog, to: Dialog, logger: Logger, headers: Headers): void {
  from.on('modify', (req: SrfRequest, res: { send(status: number, opts?: { body?: string }): void }) => {
    to.modify(req.body ?? '', { headers }).then(
      (sdp) => res.send(200, { body: sdp }),
      (err: unknown) => {
        logger.warn({ err }, 're-INVITE relay failed');
        res.send(488);
      },
    );
  });
}

/**
 * The carrier's in-dialog offers. A session refresh (RFC 4028: a re-INVITE repeating its last SDP, or an UPDATE) is
 * answered here with our current SDP and the Session-Expires it asked for, never bothering the caller; a real media
 * change is relayed to the caller and its answer carries the same session-timer headers.
 */
function answerCarrier(uac: Dialog, uas: Dialog, logger: Logger): void {
  let lastOffer = uac.remote.sdp;
  type Res = { send(status: number, opts?: { body?: string; headers?: Headers }): void };
  uac.on('modify', (req: SrfRequest, res: Res) => {
    const headers = refreshAnswerHeaders(req.get('Session-Expires'));
    const refresh = isSessionRefresh(lastOffer, req.body);
    lastOffer = req.body;
    if (refresh) return res.send(200, { body: uac.local.sdp ?? '', headers });
    uas.modify(req.body ?? '').then(
      (sdp) => res.send(200, { body: sdp, headers }),
      (err: unknown) => {
        logger.warn({ err }, 're-INVITE relay failed');
        res.send(488);
      },
    );
  });
  uac.on('update', (req: SrfRequest, res: Res) => {
    res.send(200, { headers: refreshAnswerHeaders(req.get('Session-Expires')), ...(req.body && uac.local.sdp ? { body: uac.local.sdp } : {}) });
  });
}
