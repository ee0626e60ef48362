/**
 * Network → edge, in the order a message meets them: the door (before parsing), the request's checks, its server
 * transaction, its dialog, and the frame to the app; responses to the client transaction they answer.
 * Invariants:
 * - a stranger (not in the allow-list, not a peer of ours) leaves no state: it is dropped before it is parsed, or in
 *   reject mode gets one stateless 403 within a global rate; no source exceeds its own rate;
 * - a flood cannot grow memory: a request over the input limits, or beyond the transaction and dialog bounds, is
 *   answered statelessly (400, 503) before any state is made;
 * - a retransmitted request never reaches the app twice: its server transaction absorbs it (and resends the last
 *   response); a retransmitted response never does either (its client transaction absorbs it);
 * - an in-dialog request reaches only the app that owns its dialog; a response only the app (or proxy session) of
 *   the client transaction it answers, and only when it came from the address that request went to.
 */
import assert from 'node:assert';
import type { Logger } from 'pino';
import {
  cseqOf, header, listValues, parseVia, removeHeader, serialize, tagOf, uriOf,
  type SipMessage, type SipRequest, type SipResponse,
} from './sip/message.js';
import { SipParseError } from './sip/parser.js';
import { serverKey, type ClientTxn, type ServerTxn } from './transactions.js';
import type { Dialog } from './dialogs.js';
import type { Inbound as InboundMessage, Target } from './transport.js';
import type { AppConn } from './wire/server.js';
import { nonSuccessAck, responseTo } from './builders.js';
import type { ProxyResponseHandler } from './proxy.js';
import { RateLimiter } from '../util/ratelimit.js';
import { sipInputProblem } from '../cdr/input-limits.js';
import type { SourceFilter } from './sources.js';
import { metrics, type SipDropReasonLabel } from '../observability/metrics.js';
import type { InDialog } from './in-dialog.js';
import type { EdgeState } from './state.js';

/** What the edge lets in; see EdgeOptions (index.ts) for each. */
export interface DoorOptions {
  sources: SourceFilter;
  unknownSource?: 'drop' | 'reject';
  sourceRateLimit?: number;
  maxServerTransactions?: number;
  maxDialogs?: number;
}

const REJECTS_PER_SECOND = 100;

const dropped = (reason: SipDropReasonLabel): void => metrics.sipDropped.inc({ reason });

/** A 2xx again for an INVITE we already saw answered: its ACK got lost (RFC 3261 §13.2.2.4). */
const retransmitted2xx = (tx: ClientTxn, res: SipResponse): boolean =>
  tx.isInvite && res.status >= 200 && res.status < 300 && tx.state === 'accepted';

export class Inbound {
  private readonly log: Logger;
  private readonly sources: SourceFilter;
  private readonly unknownSource: 'drop' | 'reject';
  private readonly rate: RateLimiter;
  /** Reject mode answers strangers with at most this many 403s per second in total: never a reflector. */
  private readonly rejects = new RateLimiter(REJECTS_PER_SECOND);
  /** Overload guard: beyond this many live server transactions new requests get 503 without any state. */
  private readonly maxServerTransactions: number;
  /** Beyond this many dialogs new INVITEs get 503 without any state. */
  private readonly maxDialogs: number;

  constructor(private readonly s: EdgeState, private readonly inDialog: InDialog, door: DoorOptions) {
    this.log = s.log;
    this.sources = door.sources;
    this.unknownSource = door.unknownSource ?? 'drop';
    this.rate = new RateLimiter(door.sourceRateLimit ?? 0);
    this.maxServerTransactions = door.maxServerTransactions ?? 50_000;
    this.maxDialogs = door.maxDialogs ?? 50_000;
  }

  // ---------------------------------------------------------------- the door: before any parsing or state

  /** Every datagram and TCP message, before it is parsed: strangers and sources over their rate get nothing. */
  admit(from: Target): 'accept' | 'drop' | 'reject' {
    if (!this.known(from.address)) {
      if (this.unknownSource === 'reject' && this.rejects.take('')) return 'reject';
      dropped('unknown_source');
      return 'drop';
    }
    if (!this.rate.take(from.address)) {
      dropped('rate_limited');
      return 'drop';
    }
    return 'accept';
  }

  /** An allowed source, or a peer of ours: the target of a live client transaction, the far end of a dialog. */
  private known(address: string): boolean {
    return this.sources.allows(address) || this.s.peers.has(address) || this.s.dialogs.hasPeer(address);
  }

  /** SIP_UNKNOWN_SOURCE=reject: one stateless 403 to a stranger's request, nothing kept, never retransmitted. */
  onRejected(msg: SipMessage, from: Target): void {
    dropped('unknown_source');
    if (msg.kind !== 'request' || msg.method === 'ACK' || header(msg, 'via') === undefined) return;
    this.s.send(this.s.responseTarget(msg, from), serialize(responseTo(msg, 403, 'Forbidden')));
  }

  /** A TCP connection coming in: only from an allowed source or a peer (no reject mode on TCP: it is closed). */
  admitConnection(from: Target): boolean {
    if (this.known(from.address)) return true;
    dropped('unknown_source');
    return false;
  }

  onTcpLimit(from: Target, why: string): void {
    dropped('tcp_limit');
    this.log.info({ peer: `${from.address}:${from.port}`, why }, 'tcp connection closed by a limit');
  }

  // ---------------------------------------------------------------- parsed messages

  onParseError(err: SipParseError, from: Target): void {
    dropped('malformed');
    this.log.debug({ err: err.message, from }, 'malformed SIP');
    const p = err.partial;
    // A request we can still address gets 400; anything else (responses, no Via) is dropped (RFC 3261 §16.3/§18).
    if (p?.kind === 'request' && p.method !== 'ACK' && header(p, 'via') !== undefined) {
      const r = responseTo(p, 400, `Bad Request (${err.message.replace(/[\r\n]/g, ' ').slice(0, 80)})`);
      this.s.send(this.s.responseTarget(p, from), serialize(r));
    }
  }

  onMessage(m: InboundMessage): void {
    if (this.log.isLevelEnabled('debug')) {
      const line = m.msg.kind === 'request' ? `${m.msg.method} ${m.msg.uri}` : `${m.msg.status} ${m.msg.reason}`;
      this.log.debug({ from: `${m.from.proto}/${m.from.address}:${m.from.port}`, line, callId: header(m.msg, 'call-id') }, 'sip in');
    }
    if (m.msg.kind === 'request') this.onRequest(m.msg, m.from);
    else this.onResponse(m.msg, m.from);
  }

  // ---------------------------------------------------------------- requests

  /** A request, step by step: checks, ACK/CANCEL, its transaction, then its dialog or a new one for an app. */
  private onRequest(req: SipRequest, from: Target): void {
    if (!this.markSource(req, from)) return;
    const callId = header(req, 'call-id')!;
    const toTag = tagOf(header(req, 'to'));
    if (this.overInputLimits(req, from, callId, toTag)) return;
    // Only a dialog we Record-Routed for an app proxyRequest is loose-routed onwards; any other request naming us in
    // its Route is handled like every other request (to the app, or 481/483), so nothing is relayed.
    const routed = this.inDialog.routedDialogOf(req, from, callId, toTag);
    if (req.method === 'ACK') return routed ? this.inDialog.looseRouteAck(req, from, routed) : this.inDialog.onAck(req, from, callId);
    if (req.method === 'CANCEL') return this.inDialog.onCancel(req, from);

    const key = serverKey(req, req.method);
    const existing = this.s.serverTxns.get(key);
    if (existing) { existing.onRetransmit(); return; }
    if (this.shed(req, from, toTag)) return;
    assert(this.s.serverTxns.size < this.maxServerTransactions, 'no server transaction beyond the bound');
    const mf = header(req, 'max-forwards');
    const tx = this.s.newServerTxn(key, req, from);
    if (mf !== undefined && mf.trim() === '0') return this.s.respondStateless(tx, 483);
    if (routed) return this.inDialog.looseRoute(tx, routed);

    if (req.method === 'INVITE') this.s.respondRaw(tx, responseTo(req, 100));
    if (toTag !== undefined) return this.toDialog(tx, req, from, callId, toTag);
    this.toNewApp(tx, req, from);
  }

  /** RFC 3581: note where it really came from (received, rport) so responses find their way back. */
  private markSource(req: SipRequest, from: Target): boolean {
    const vias = listValues(req, 'via');
    const top = parseVia(vias[0] ?? '');
    if (!top) { this.onParseError(new SipParseError('unparseable Via'), from); return false; }
    let topVia = vias[0]!;
    if (top.host !== from.address) topVia += `;received=${from.address}`;
    if (top.params.rport === '') topVia = topVia.replace(/;rport(?=;|$)/, `;rport=${from.port}`);
    removeHeader(req, 'via');
    req.headers.unshift(...[topVia, ...vias.slice(1)].map((v) => ({ name: 'Via', value: v })));
    return true;
  }

  /** Input limits: nothing accepted here can fail the outbox validator later, and keys stay small (stateless 400). */
  private overInputLimits(req: SipRequest, from: Target, callId: string, toTag: string | undefined): boolean {
    const problem = sipInputProblem({
      callId, requestUri: req.uri, from: header(req, 'from'), to: header(req, 'to'), pai: header(req, 'p-asserted-identity'),
      fromTag: tagOf(header(req, 'from')), toTag,
    });
    if (!problem) return false;
    dropped('malformed');
    if (req.method !== 'ACK') this.s.send(this.s.responseTarget(req, from), serialize(responseTo(req, 400, `Bad Request (${problem})`)));
    return true;
  }

  /**
   * Overload admission, before any transaction state: beyond the live server transactions, or beyond the dialogs for
   * a new INVITE, a stateless `503 Overloaded` with Retry-After.
   */
  private shed(req: SipRequest, from: Target, toTag: string | undefined): boolean {
    if (this.s.serverTxns.size < this.maxServerTransactions && (req.method !== 'INVITE' || toTag !== undefined || this.s.dialogs.size < this.maxDialogs)) return false;
    const busy = responseTo(req, 503, 'Overloaded');
    busy.headers.push({ name: 'Retry-After', value: '5' });
    this.s.send(this.s.responseTarget(req, from), serialize(busy));
    return true;
  }

  /** An in-dialog request: to the app owning our dialog (481 without one, 500 for an old CSeq). */
  private toDialog(tx: ServerTxn, req: SipRequest, from: Target, callId: string, toTag: string): void {
    const d = this.s.dialogs.findLocal(callId, toTag);
    if (!d || (d.owner as AppConn).closed) return this.s.respondStateless(tx, 481);
    const seq = cseqOf(req)!.seq;
    if (d.remoteCseq !== undefined && seq < d.remoteCseq) return this.s.respondStateless(tx, 500, 'CSeq out of order');
    d.remoteCseq = seq;
    tx.dialogId = d.id;
    tx.localTag = d.localTag;
    tx.appOwner = d.owner;
    if ((req.method === 'INVITE' || req.method === 'UPDATE') && !this.inDialog.onPeerRefresh(tx, d)) return;
    if (req.method === 'PRACK') this.inDialog.onPrack(req, d);
    (d.owner as AppConn).send(this.s.frameFromNetwork(req, from, tx.id, d.id, false));
  }

  /** A request outside any dialog: to an app that routed its method, round-robin (503 when none). */
  private toNewApp(tx: ServerTxn, req: SipRequest, from: Target): void {
    if (req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'PRACK') return this.s.respondStateless(tx, 481);
    const app = this.s.wire.pick(req.method.toLowerCase());
    if (!app) return this.s.respondStateless(tx, 503, 'No providers available');
    tx.appOwner = app;
    app.send(this.s.frameFromNetwork(req, from, tx.id, '', true));
  }

  // ---------------------------------------------------------------- responses

  /** A response, step by step: its client transaction, then a proxy session, or the dialog and the app. */
  private onResponse(res: SipResponse, from: Target): void {
    const tx = this.clientTxnOf(res, from);
    if (!tx) return;
    const meta = this.s.clientMeta.get(tx.id);
    if (meta?.proxy) return this.toProxy(tx, res, from, meta.proxy);
    if (retransmitted2xx(tx, res)) return this.inDialog.ackAgain(meta?.dialog);
    const fresh = tx.onResponse(res.status);
    this.ackFailure(tx, res);
    if (!fresh || !meta) return;
    if (res.status === 100) return; // the stack absorbs 100 Trying, as sofia does
    const d = meta.dialog;
    if (d && tx.isInvite) this.toUacDialog(d, res);
    if (tx.isInvite && res.status < 200) this.inDialog.releaseCancel(tx);
    if (d && tx.request.method === 'BYE' && res.status >= 200) this.s.dialogs.remove(d);
    if (d && tx.isInvite && !this.inDialog.freshReliable(d, res)) return;
    if (meta.app && !meta.app.closed) meta.app.send(this.s.frameFromNetwork(res, from, tx.id, d?.id ?? '', false));
  }

  /** The client transaction a response answers, if it came from where that request went (else dropped, counted). */
  private clientTxnOf(res: SipResponse, from: Target): ClientTxn | undefined {
    const via = parseVia(listValues(res, 'via')[0] ?? '');
    const cseq = cseqOf(res);
    if (!via || !cseq) return undefined;
    const tx = this.s.clientTxns.get(`${via.params.branch}|${cseq.method}`);
    // RFC 3261 §18.1.2: drop. Like sofia, a CSeq number other than the request's is no match either.
    if (!tx || cseqOf(tx.request)?.seq !== cseq.seq) { dropped('stray_response'); return undefined; }
    // only from where the request went: a forged response from elsewhere must not answer or end our call
    if (from.address !== tx.to.address) {
      dropped('response_source');
      this.log.debug({ from: `${from.address}:${from.port}`, expected: tx.to.address, status: res.status }, 'response from another address than its request went to: dropped');
      return undefined;
    }
    return tx;
  }

  /** A response to a branch of a proxy session (app proxyRequest or loose routing): the session decides. */
  private toProxy(tx: ClientTxn, res: SipResponse, from: Target, proxy: ProxyResponseHandler): void {
    const again2xx = retransmitted2xx(tx, res);
    const fresh = again2xx || tx.onResponse(res.status);
    this.ackFailure(tx, res);
    if (tx.isInvite && res.status < 200) this.inDialog.releaseCancel(tx);
    if (fresh) proxy.onResponse(res, from, again2xx);
  }

  /** The transaction layer ACKs a non-2xx final to our INVITE, and every retransmission of it (RFC 3261 §17.1.1.3). */
  private ackFailure(tx: ClientTxn, res: SipResponse): void {
    if (tx.isInvite && res.status >= 300 && tx.state === 'completed') this.s.send(tx.to, serialize(nonSuccessAck(tx.request, res)));
  }

  /** A response to our INVITE shapes its dialog; the 2xx that confirms it arms its session timer. */
  private toUacDialog(d: Dialog, res: SipResponse): void {
    const forming = d.state === 'early';
    this.updateUacDialog(d, res);
    if (forming && res.status >= 200 && res.status < 300) {
      const se = header(res, 'session-expires');
      if (se !== undefined) this.inDialog.sessionTimers.fromHeader(d, se, false);
    }
  }

  /** The first response's To-tag, route set and target; a failure ends the early dialog. */
  private updateUacDialog(d: Dialog, res: SipResponse): void {
    const toTag = tagOf(header(res, 'to'));
    const initial = d.remoteTag === undefined || d.state === 'early';
    if (res.status >= 300) {
      if (initial) this.s.dialogs.remove(d, true);
      return;
    }
    if (toTag === undefined) return;
    if (initial) {
      d.remoteTag = toTag;
      d.remoteUri = header(res, 'to')!;
      d.routeSet = listValues(res, 'record-route').reverse();
      if (res.status >= 200) d.state = 'confirmed';
    }
    const c = header(res, 'contact');
    if (c) d.remoteTarget = uriOf(c);
  }
}
