/**
 * What happens inside a dialog (and to an INVITE in progress): loose routing of the dialogs we Record-Routed,
 * ACK and CANCEL, reliable provisionals (PRACK), the 2xx we retransmit until its ACK, session refresh, and the BYEs
 * the edge sends by itself. Called by inbound and outbound; calls only the shared state below it.
 * Invariants:
 * - never a relay: the edge forwards a request on its own only inside a dialog it Record-Routed for an app's
 *   proxyRequest, from one of its two parties to the other (anything else is the app's to decide, or 481/403);
 * - a 2xx's ACK reaches the app once (a retransmitted ACK, or one for another CSeq, is dropped), and so does the
 *   CANCEL of an INVITE (a retransmitted CANCEL gets its 200 again and nothing else);
 * - a CANCEL leaves only after a provisional (RFC 3261 §9.1), at most once per INVITE;
 * - a dialog the edge ends by itself (no ACK, session expired, refresh failed) gets one BYE on the wire, one
 *   `unsolicited` BYE to its app, and leaves the store with its timers.
 */
import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  canonicalName, cseqOf, header, listValues, removeHeader, serialize, tagOf, uriOf, parseUri,
  type SipHeader, type SipRequest, type SipResponse,
} from './sip/message.js';
import { serverKey, type ClientTxn, type ServerTxn } from './transactions.js';
import { inDialogRouting, type Dialog } from './dialogs.js';
import type { Proto, Target } from './transport.js';
import type { AppConn } from './wire/server.js';
import { appHeaders, cancelRequest, newBranch, newTag, responseTo, stackTime } from './builders.js';
import { ProxySession, type ProxyHost, type ProxyResponseHandler } from './proxy.js';
import { parseRack, ReliableUas } from './reliable.js';
import { MIN_SE, parseSessionExpires, SessionTimers } from './session-timer.js';
import type { RoutedDialog } from './routed.js';
import type { EdgeState } from './state.js';

const CRLF = '\r\n';
/** Headers of an in-dialog request the dialog decides, whatever the app put there. */
const DIALOG_OWNED = new Set(['from', 'to', 'call-id', 'cseq', 'max-forwards']);
/** Requests whose body is the dialog's new local SDP (a refresh re-INVITE sends the last one). */
const CARRIES_SDP = new Set(['INVITE', 'UPDATE', 'ACK']);

/** Pop our Route; the next hop is the next Route or the request URI. */
function popOwnRoute(req: SipRequest): string {
  const routes = listValues(req, 'route');
  removeHeader(req, 'route');
  const rest = routes.slice(1);
  req.headers.push(...rest.map((r) => ({ name: 'Route', value: r })));
  return rest.length > 0 ? uriOf(rest[0]!) : req.uri;
}

export interface SentRequest { to: Target; text: string; txnId: string }

export class InDialog {
  readonly sessionTimers: SessionTimers;
  /** What a proxy session (app proxyRequest, or loose routing) needs of the stack. */
  readonly proxyHost: ProxyHost;
  private readonly log: Logger;

  constructor(private readonly s: EdgeState) {
    this.log = s.log;
    this.sessionTimers = new SessionTimers({
      refresh: (d, sec) => this.refreshSession(d, sec),
      expire: (d) => this.unsolicitedBye(d, 'Session timer expired'),
    }, s.timers.sessionSecond);
    this.proxyHost = {
      recordRoute: (proto) => s.recordRoute(proto),
      via: (proto, branch) => s.via(proto, branch),
      send: (to, text) => s.send(to, text),
      resolve: (uri, fallback) => s.resolve(uri, fallback),
      isSelf: (t) => s.isSelf(t),
      startProxyTxn: (req, text, to, branch, handler) => s.startClientTxn(undefined, req, text, to, branch, undefined, handler),
      cancel: (tx, headers) => {
        if (tx.finalStatus !== 0 || tx.canceled) return;
        this.cancelInvite(tx, { kind: 'request', method: 'CANCEL', uri: tx.request.uri, headers, body: '' });
      },
      dialogFormed: (stx, res, from) => this.recordRouted(stx, res, from),
    };
  }

  // ---------------------------------------------------------------- loose routing (dialogs we Record-Routed)

  /** The Record-Routed dialog an in-dialog request with our Route on top belongs to, sent by one of its parties. */
  routedDialogOf(req: SipRequest, from: Target, callId: string, toTag: string | undefined): RoutedDialog | undefined {
    if (toTag === undefined || this.s.routed.size === 0) return undefined;
    const first = listValues(req, 'route')[0];
    if (first === undefined || !this.s.isOwnUri(uriOf(first))) return undefined;
    const d = this.s.routed.find(callId, tagOf(header(req, 'from')), toTag);
    return d?.peers.has(from.address) ? d : undefined;
  }

  /** A dialog-forming response passed through a Record-Routing proxy session: its two parties are noted. */
  private recordRouted(stx: ServerTxn, res: SipResponse, from: Target): void {
    const req = stx.request;
    const toTag = tagOf(header(res, 'to'));
    const fromTag = tagOf(header(req, 'from'));
    if (toTag === undefined || fromTag === undefined) return;
    const contacts = [header(req, 'contact'), header(res, 'contact')].map((c) => (c ? parseUri(uriOf(c))?.host ?? '' : ''));
    this.s.routed.add(header(req, 'call-id')!, fromTag, toTag, [stx.from.address, from.address, ...contacts.filter((a) => isIP(a) !== 0)]);
  }

  /** The next hop, resolved, if it is the dialog's other party (and not us). */
  private async peerTarget(uri: string, fallback: Proto, d: RoutedDialog): Promise<Target | undefined> {
    const to = await this.s.resolve(uri, fallback);
    return to && !this.s.isSelf(to) && d.peers.has(to.address) ? to : undefined;
  }

  looseRouteAck(req: SipRequest, from: Target, d: RoutedDialog): void {
    void this.peerTarget(popOwnRoute(req), from.proto, d).then((to) => {
      if (!to) return;
      req.headers.unshift({ name: 'Via', value: this.s.via(to.proto, newBranch()) });
      this.s.send(to, serialize(req));
    });
  }

  /** A request of a dialog we Record-Routed (we proxied its INVITE): pass it on to the other party. */
  looseRoute(tx: ServerTxn, d: RoutedDialog): void {
    const req = tx.request;
    const next = popOwnRoute(req);
    void this.peerTarget(next, tx.from.proto, d).then((to) => {
      if (!to) {
        this.log.warn({ callId: header(req, 'call-id'), next }, 'in-dialog request of a proxied dialog names no party of it; refused');
        return this.s.respondStateless(tx, 403, 'Forbidden');
      }
      if (req.method === 'BYE') this.s.routed.remove(d);
      const session = new ProxySession(this.proxyHost, tx, [next], { recordRoute: false, rewriteUri: false, extraHeaders: [] });
      tx.proxy = session;
      session.start();
    });
  }

  // ---------------------------------------------------------------- ACK and CANCEL from the network

  /** An ACK: of our non-2xx final (its INVITE transaction absorbs it), or of a 2xx (to the app, once). */
  onAck(ack: SipRequest, from: Target, callId: string): void {
    const inv = this.s.serverTxns.get(serverKey(ack, 'INVITE'));
    if (inv && (inv.state === 'completed' || inv.state === 'confirmed')) { inv.onAck(); return; } // ACK of a non-2xx
    const d = this.s.dialogs.findLocal(callId, tagOf(header(ack, 'to')));
    if (!d) return; // stray ACK: RFC 3261 §17.2.3 says drop it
    const pending = d.pending2xx;
    if (!pending) return; // retransmitted ACK: the app has seen it already
    if (cseqOf(pending.txn.request)?.seq !== cseqOf(ack)?.seq) return;
    this.stop2xx(d);
    d.state = 'confirmed';
    (d.owner as AppConn).send(this.s.frameFromNetwork(ack, from, randomUUID(), d.id, false));
  }

  /** 200 to the CANCEL, 487 to the INVITE if it is still open, then tell the app (reference §1.6 "Inbound CANCEL"). */
  onCancel(cancel: SipRequest, from: Target): void {
    const inv = this.s.serverTxns.get(serverKey(cancel, 'INVITE'));
    const to = this.s.responseTarget(cancel, from);
    if (!inv) { this.s.send(to, serialize(responseTo(cancel, 481))); return; }
    this.s.send(to, serialize(responseTo(cancel, 200, undefined, inv.localTag)));
    if (inv.finalStatus !== 0 || inv.canceled) return;
    inv.canceled = true;
    if (inv.proxy) {
      inv.proxy.cancel(cancel.headers.filter((h) => ['reason', 'x-reason'].includes(canonicalName(h.name))));
      return;
    }
    if (!inv.localTag) inv.localTag = newTag();
    this.s.respondRaw(inv, responseTo(inv.request, 487, undefined, inv.localTag));
    const d = inv.dialogId ? this.s.dialogs.get(inv.dialogId) : undefined;
    if (d) this.s.dialogs.remove(d, true);
    const app = inv.appOwner as AppConn | undefined;
    if (app && !app.closed) app.send(this.s.frameFromNetwork(cancel, from, inv.id, d ? d.id : '', false));
  }

  // ---------------------------------------------------------------- CANCEL of an INVITE we sent

  /** CANCEL our INVITE `tx` (the caller checked it is not cancelled or final yet): now, or once a provisional came. */
  cancelInvite(tx: ClientTxn, msg: SipRequest): void {
    tx.canceled = true;
    if (tx.state === 'calling') tx.cancelPending = msg; // RFC 3261 §9.1: not before a provisional
    else this.sendCancelNow(tx, msg);
  }

  /** A provisional arrived for our INVITE: the CANCEL held for it goes out now. */
  releaseCancel(tx: ClientTxn): void {
    const held = tx.cancelPending;
    if (!held) return;
    tx.cancelPending = undefined;
    this.sendCancelNow(tx, held);
  }

  private sendCancelNow(tx: ClientTxn, appMsg: SipRequest): void {
    this.s.startCancelTxn(tx, cancelRequest(tx.request, appMsg));
    if (tx.isInvite) tx.expireAfterCancel((t) => this.cancelExpired(t));
  }

  /** No final response after our CANCEL: like drachtio-server, the INVITE is torn down without telling the app. */
  private cancelExpired(tx: ClientTxn): void {
    const meta = this.s.clientMeta.get(tx.id);
    this.log.info({ callId: header(tx.request, 'call-id') }, 'no final response 64*T1 after CANCEL: INVITE transaction torn down');
    if (meta?.proxy) meta.proxy.onFailure(408);
    else if (meta?.dialog && meta.dialog.state === 'early') this.s.dialogs.remove(meta.dialog, true);
  }

  // ---------------------------------------------------------------- reliable provisionals (RFC 3262)

  /** UAS: the reliable-provisional state of the app's INVITE transaction, made on its first reliable 1xx. */
  reliableOf(tx: ServerTxn): ReliableUas {
    tx.reliable ??= new ReliableUas(this.s.timers, tx.from.proto === 'udp', (t) => this.s.send(tx.from, t), () => this.reliableTimeout(tx));
    return tx.reliable;
  }

  /** A PRACK in an early UAS dialog: if its RAck names our outstanding reliable provisional, that one is acknowledged. */
  onPrack(req: SipRequest, d: Dialog): void {
    const rack = parseRack(header(req, 'rack'));
    if (d.reliable && rack && rack.method === 'INVITE' && rack.cseq === d.inviteCseqRemote) d.reliable.prack(rack.rseq);
  }

  /** No PRACK for a reliable provisional within 64*T1: the INVITE is refused, as sofia does. */
  private reliableTimeout(tx: ServerTxn): void {
    if (tx.finalStatus !== 0) return;
    this.log.info({ callId: header(tx.request, 'call-id') }, 'reliable provisional never PRACKed: INVITE refused');
    this.s.respondStateless(tx, 503, 'Reliable Response Time-Out');
    const d = this.s.dialogs.get(tx.dialogId);
    if (d && d.state === 'early' && d.role === 'uas') this.s.dialogs.remove(d, true);
  }

  /**
   * UAC, RFC 3262 §4 (sofia's outgoing_recv_reliable): a reliable provisional whose RSeq is not the next one is a
   * retransmission or out of order and is not passed to the app again (the app's PRACK has its own transaction).
   */
  freshReliable(d: Dialog, res: SipResponse): boolean {
    const rseq = Number(header(res, 'rseq'));
    if (res.status <= 100 || res.status >= 200 || !Number.isSafeInteger(rseq) || rseq <= 0) return true;
    if (d.lastRseq !== undefined && rseq !== d.lastRseq + 1) return false;
    d.lastRseq = rseq;
    return true;
  }

  // ---------------------------------------------------------------- the 2xx and its ACK

  /** UAS: we answered `tx` with a 2xx. On UDP it is retransmitted until the ACK (RFC 3261 §13.3.1.4); none in 64·T1 ends the dialog. */
  answered(d: Dialog, tx: ServerTxn, text: string): void {
    if (d.pending2xx) this.stop2xx(d);
    const p: NonNullable<Dialog['pending2xx']> = { txn: tx };
    d.pending2xx = p;
    if (tx.from.proto === 'udp') {
      const again = (interval: number): void => {
        p.timer = setTimeout(() => { this.s.send(tx.from, text); again(Math.min(interval * 2, this.s.timers.T2)); }, interval);
        p.timer.unref?.();
      };
      again(this.s.timers.T1);
    }
    p.giveUp = setTimeout(() => this.noAck(d, p), 64 * this.s.timers.T1);
    p.giveUp.unref?.();
  }

  /** Answered, and no ACK came: the edge ends the call as drachtio-server does. */
  private noAck(d: Dialog, p: NonNullable<Dialog['pending2xx']>): void {
    if (d.pending2xx !== p) return;
    clearTimeout(p.timer);
    d.pending2xx = undefined;
    this.log.warn({ callId: d.callId }, 'no ACK for 2xx; ending the dialog');
    this.unsolicitedBye(d, 'ACK timeout');
  }

  private stop2xx(d: Dialog): void {
    clearTimeout(d.pending2xx?.timer);
    clearTimeout(d.pending2xx?.giveUp);
    d.pending2xx = undefined;
  }

  /** UAC: the peer retransmitted its 2xx, so our ACK got lost: send it again. */
  ackAgain(d: Dialog | undefined): void {
    if (d?.lastAck) this.s.send(d.lastAck.to, d.lastAck.text);
  }

  // ---------------------------------------------------------------- requests inside a dialog

  /** Builds and sends a request inside dialog `d`; ACK reuses the INVITE CSeq, everything else increments it. */
  async sendInDialog(d: Dialog, msg: SipRequest, internal?: ProxyResponseHandler): Promise<SentRequest | undefined> {
    const routing = inDialogRouting(d);
    const to = await this.s.resolve(routing.nextHop, d.proto, d.fallback);
    if (!to) return undefined;
    const method = msg.method;
    const seq = method === 'ACK' ? d.inviteCseq : ++d.localCseq;
    if (method === 'INVITE') d.inviteCseq = seq;
    const branch = newBranch();
    const headers: SipHeader[] = [
      { name: 'Via', value: this.s.via(to.proto, branch) },
      ...routing.routes.map((r) => ({ name: 'Route', value: r })),
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: d.localUri },
      { name: 'To', value: d.remoteUri },
      { name: 'Call-ID', value: d.callId },
      { name: 'CSeq', value: `${seq} ${method}` },
      ...appHeaders(msg, this.s.host, this.s.sipPort).filter((h) => !DIALOG_OWNED.has(canonicalName(h.name))),
    ];
    if (method === 'INVITE' && !headers.some((h) => canonicalName(h.name) === 'contact')) headers.push({ name: 'Contact', value: this.s.contact(d.proto) });
    const uri = msg.uri.includes('placeholder') || method === 'ACK' || method === 'PRACK' ? routing.ruri : msg.uri;
    const req: SipRequest = { kind: 'request', method, uri, headers, body: msg.body };
    const text = serialize(req);
    if (CARRIES_SDP.has(method) && msg.body !== '') d.localSdp = msg.body;
    if (method === 'ACK') {
      d.lastAck = { text, to };
      this.s.send(to, text);
      return { to, text, txnId: randomUUID() };
    }
    const tx = internal ? this.s.startClientTxn(undefined, req, text, to, branch, undefined, internal) : this.s.startClientTxn(d.owner as AppConn, req, text, to, branch, d);
    return { to, text, txnId: tx.id };
  }

  /** The stack tears a dialog down by itself: BYE on the wire and an `unsolicited` BYE to the app (reference §1.7). */
  unsolicitedBye(d: Dialog, why: string): void {
    const reason = `SIP;cause=200;text="${why}"`;
    void this.sendInDialog(d, { kind: 'request', method: 'BYE', uri: 'sip:placeholder', headers: [{ name: 'Reason', value: reason }], body: '' })
      .catch(() => undefined);
    const app = d.owner as AppConn;
    const bye: SipRequest = {
      kind: 'request', method: 'BYE', uri: d.remoteTarget, body: '',
      headers: [
        { name: 'Via', value: this.s.via(d.proto, newBranch()) }, { name: 'From', value: d.remoteUri }, { name: 'To', value: d.localUri },
        { name: 'Call-ID', value: d.callId }, { name: 'CSeq', value: `${d.localCseq} BYE` }, { name: 'Reason', value: reason },
      ],
    };
    const raw = serialize(bye);
    if (!app.closed) app.send(`${randomUUID()}|sip|application|${Buffer.byteLength(raw)}|${d.proto}|${this.s.host}|${this.s.sipPort}|${stackTime()}|unsolicited|${d.id}|${CRLF}${raw}`);
    this.s.dialogs.remove(d);
  }

  // ---------------------------------------------------------------- session refresh (RFC 4028)

  /** A re-INVITE/UPDATE from the peer: below Min-SE it gets 422 here (false); else it (re)sets the session timer and the target. */
  onPeerRefresh(tx: ServerTxn, d: Dialog): boolean {
    const req = tx.request;
    const value = header(req, 'session-expires');
    const se = parseSessionExpires(value);
    if (se && se.seconds < MIN_SE) {
      // RFC 4028 §8.1, as drachtio-server answers it (the app never sees the request)
      const tooSmall = responseTo(req, 422, 'Session Interval Too Small', tx.localTag);
      tooSmall.headers.push({ name: 'Min-SE', value: String(MIN_SE) });
      this.s.respondRaw(tx, tooSmall);
      return false;
    }
    this.sessionTimers.fromHeader(d, value, true);
    const c = header(req, 'contact');
    if (c) d.remoteTarget = uriOf(c);
    return true;
  }

  /**
   * We are the session refresher (RFC 4028): a re-INVITE with the dialog's last local SDP, sent by the edge itself as
   * drachtio-server does (notifyRefreshDialog). Its 2xx is ACKed here and arms the next refresh; a 408/481 or no
   * answer means the peer lost the dialog (§10): BYE and tell the app. Other failures leave the timer off.
   */
  private refreshSession(d: Dialog, seconds: number): void {
    const refresh: SipRequest = {
      kind: 'request', method: 'INVITE', uri: 'sip:placeholder', body: d.localSdp ?? '',
      headers: [
        { name: 'Session-Expires', value: `${seconds};refresher=uac` }, { name: 'Min-SE', value: String(MIN_SE) },
        ...(d.localSdp ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
      ],
    };
    const ended = (why: string): void => {
      this.log.info({ callId: d.callId, why }, 'session refresh failed: ending the dialog');
      if (!d.removed) this.unsolicitedBye(d, 'Session timer expired');
    };
    const handler: ProxyResponseHandler = {
      onResponse: (res, _from, retransmission) => {
        if (res.status < 200) return;
        if (res.status >= 300) {
          if (res.status === 408 || res.status === 481) ended(`${res.status} to the refresh`);
          else this.log.warn({ callId: d.callId, status: res.status }, 'session refresh refused: session timer off');
          return;
        }
        if (retransmission) return this.ackAgain(d);
        void this.sendInDialog(d, { kind: 'request', method: 'ACK', uri: 'sip:placeholder', headers: [], body: '' });
        if (!d.removed) this.sessionTimers.fromHeader(d, header(res, 'session-expires'), false);
      },
      onFailure: (status) => ended(`refresh ${status}`),
    };
    this.sendInDialog(d, refresh, handler).then((sent) => { if (!sent) ended('no route'); }, () => ended('send error'));
  }
}
