/**
 * The edge's call core: joins SIP transports, transactions and dialogs to the drachtio wire protocol.
 * Network → app: new requests go to an app that routed the method (503 when none), in-dialog traffic to the
 * app owning the dialog. App → network: `sip` frames dispatched as drachtio-server does (reference §1.4).
 */
import { randomInt, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import {
  canonicalName, cseqOf, header, headerValues, listValues, parseUri, parseVia, removeHeader, serialize,
  tagOf, uriOf, type SipMessage, type SipRequest, type SipResponse,
} from './sip/message.js';
import { parseAppMessage, SipParseError } from './sip/parser.js';
import { ClientTxn, ServerTxn } from './transactions.js';
import { DialogStore, inDialogRouting, type Dialog } from './dialogs.js';
import type { Transports, Inbound, Proto, Target } from './transport.js';
import type { AppConn, AppMessageHandler, WireServer } from './wire/server.js';
import type { SipTimers } from './timers.js';
import { cancelRequest, localFailure, newBranch, newTag, nonSuccessAck, REASONS, responseTo, stackTime } from './builders.js';
import { ProxySession, type ProxyHost, type ProxyResponseHandler } from './proxy.js';
import { offers100rel, parseRack, ReliableUas } from './reliable.js';
import { MIN_SE, parseSessionExpires, SessionTimers } from './session-timer.js';
import { RoutedDialogs, type RoutedDialog } from './routed.js';
import { RateLimiter } from './ratelimit.js';
import { sipInputProblem } from '../cdr/input-limits.js';
import type { SourceFilter } from './sources.js';
import { metrics, type SipDropReasonLabel } from '../observability/metrics.js';

export type Admission = 'accept' | 'drop' | 'reject';

/** What the edge lets in (issue 9 items 1-2); see EdgeOptions for each. */
export interface DoorOptions {
  sources: SourceFilter;
  unknownSource?: 'drop' | 'reject';
  sourceRateLimit?: number;
  maxServerTransactions?: number;
  maxDialogs?: number;
}

const REJECTS_PER_SECOND = 100;

const dropped = (reason: SipDropReasonLabel): void => metrics.sipDropped.inc({ reason });

const CRLF = '\r\n';
/** Headers an app may not set: the stack owns them (drachtio `makeTags`). */
const IMMUTABLE = new Set(['via', 'route', 'rseq', 'record-route', 'content-length']);

export class EdgeCore implements AppMessageHandler {
  readonly dialogs = new DialogStore();
  /** Dialogs we Record-Routed for an app proxyRequest: the only requests the edge forwards by itself. */
  readonly routed = new RoutedDialogs();
  private readonly serverTxns = new Map<string, ServerTxn>();
  private readonly serverById = new Map<string, ServerTxn>();
  private readonly clientTxns = new Map<string, ClientTxn>();
  private readonly clientById = new Map<string, ClientTxn>();
  /** Which app gets what follows for a client transaction, and the dialog it belongs to. */
  private readonly clientMeta = new Map<string, { app?: AppConn; dialog?: Dialog; proxy?: ProxyResponseHandler }>();
  wire!: WireServer;
  private readonly sessionTimers: SessionTimers;
  private readonly proxyHost: ProxyHost = {
    recordRoute: (proto) => `<sip:${this.host}:${this.sipPort};lr${proto === 'udp' ? '' : `;transport=${proto}`}>`,
    via: (proto, branch) => this.via(proto, branch),
    send: (to, text) => this.send(to, text),
    resolve: (uri, fallback) => this.resolve(uri, fallback),
    isSelf: (t) => this.isSelf(t),
    startProxyTxn: (req, text, to, branch, handler) => this.startClientTxn(undefined, req, text, to, branch, undefined, handler),
    cancel: (tx, headers) => {
      const msg: SipRequest = { kind: 'request', method: 'CANCEL', uri: tx.request.uri, headers, body: '' };
      if (tx.finalStatus !== 0 || tx.canceled) return;
      tx.canceled = true;
      if (tx.state === 'calling') tx.cancelPending = msg;
      else this.sendCancelNow(tx, msg);
    },
    dialogFormed: (stx, res, from) => {
      const req = stx.request;
      const toTag = tagOf(header(res, 'to'));
      const fromTag = tagOf(header(req, 'from'));
      if (toTag === undefined || fromTag === undefined) return;
      const contacts = [header(req, 'contact'), header(res, 'contact')].map((c) => (c ? parseUri(uriOf(c))?.host ?? '' : ''));
      this.routed.add(header(req, 'call-id')!, fromTag, toTag, [stx.from.address, from.address, ...contacts.filter((a) => isIP(a) !== 0)]);
    },
  };

  private readonly sources: SourceFilter;
  private readonly unknownSource: 'drop' | 'reject';
  private readonly rate: RateLimiter;
  /** Reject mode answers strangers with at most this many 403s per second in total: never a reflector. */
  private readonly rejects = new RateLimiter(REJECTS_PER_SECOND);
  /** Overload guard: beyond this many live server transactions new requests get 503 without any state. */
  private readonly maxServerTransactions: number;
  /** Beyond this many dialogs new INVITEs get 503 without any state. */
  private readonly maxDialogs: number;
  /** Addresses we sent requests to (live client transactions): their responses pass the source filter. */
  private readonly peers = new Map<string, number>();

  constructor(
    private readonly host: string,
    readonly transports: Transports,
    private readonly timers: SipTimers,
    private readonly log: Logger,
    door: DoorOptions,
  ) {
    this.sources = door.sources;
    this.unknownSource = door.unknownSource ?? 'drop';
    this.rate = new RateLimiter(door.sourceRateLimit ?? 0);
    this.maxServerTransactions = door.maxServerTransactions ?? 50_000;
    this.maxDialogs = door.maxDialogs ?? 50_000;
    this.sessionTimers = new SessionTimers({ refresh: (d, sec) => this.refreshSession(d, sec), expire: (d) => this.unsolicitedBye(d, 'Session timer expired') }, timers.sessionSecond);
  }

  // ---------------------------------------------------------------- the door (issue 9): before any parsing or state

  /** Every datagram and TCP message, before it is parsed: strangers and sources over their rate get nothing. */
  admit(from: Target): Admission {
    if (!this.sources.allows(from.address) && !this.peers.has(from.address) && !this.dialogs.hasPeer(from.address)) {
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

  /** SIP_UNKNOWN_SOURCE=reject: one stateless 403 to a stranger's request, nothing kept, never retransmitted. */
  onRejected(msg: SipMessage, from: Target): void {
    dropped('unknown_source');
    if (msg.kind !== 'request' || msg.method === 'ACK' || header(msg, 'via') === undefined) return;
    this.send(this.responseTarget(msg, from), serialize(responseTo(msg, 403, 'Forbidden')));
  }

  /** A TCP connection coming in: only from an allowed source or a peer (no reject mode on TCP: it is closed). */
  admitConnection(from: Target): boolean {
    if (this.sources.allows(from.address) || this.peers.has(from.address) || this.dialogs.hasPeer(from.address)) return true;
    dropped('unknown_source');
    return false;
  }

  onTcpLimit(from: Target, why: string): void {
    dropped('tcp_limit');
    this.log.info({ peer: `${from.address}:${from.port}`, why }, 'tcp connection closed by a limit');
  }

  private addPeer(address: string): void { this.peers.set(address, (this.peers.get(address) ?? 0) + 1); }

  private dropPeer(address: string): void {
    const n = (this.peers.get(address) ?? 1) - 1;
    if (n <= 0) this.peers.delete(address); else this.peers.set(address, n);
  }

  // ---------------------------------------------------------------- helpers

  private get sipPort(): number { return this.transports.port; }

  hostports(): string {
    return (['udp', 'tcp'] as Proto[]).filter((p) => this.transports.has(p)).map((p) => `${p}/${this.host}:${this.sipPort}`).join(',');
  }

  private contact(proto: Proto, user?: string): string {
    return `<sip:${user ? `${user}@` : ''}${this.host}:${this.sipPort}${proto === 'udp' ? '' : `;transport=${proto}`}>`;
  }

  private via(proto: Proto, branch: string): string {
    return `SIP/2.0/${proto.toUpperCase()} ${this.host}:${this.sipPort};rport;branch=${branch}`;
  }

  private send(to: Target, text: string): void {
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ to: `${to.proto}/${to.address}:${to.port}`, line: text.slice(0, text.indexOf('\r\n')), callId: /\r\n(?:Call-ID|i)\s*:\s*([^\r]*)/i.exec(text)?.[1] }, 'sip out');
    }
    this.transports.send(to, text).catch((err: unknown) => this.log.warn({ err, to }, 'sip send failed'));
  }

  private async resolve(uri: string, fallback: Proto, defaultTarget?: Target): Promise<Target | undefined> {
    const u = parseUri(uri.startsWith('sip:') || uri.startsWith('sips:') ? uri : `sip:${uri}`);
    if (!u) return undefined;
    const t = (u.params.transport ?? '').toLowerCase();
    const proto: Proto = t === 'tcp' ? 'tcp' : t === 'udp' ? 'udp' : fallback;
    let address = u.host;
    if (isIP(address) === 0) {
      try { address = (await lookup(address, { family: 4 })).address; } catch { return defaultTarget; }
    }
    return { proto, address, port: u.port ?? 5060 };
  }

  private isSelf(t: Target): boolean {
    return (t.address === this.host || (this.host === '0.0.0.0' && t.address === '127.0.0.1')) && t.port === this.sipPort;
  }

  private frameFromNetwork(msg: SipMessage, from: Target, txnId: string, dialogId: string, isNew: boolean): string {
    const raw = serialize(msg);
    const leader = ['', 'sip', 'network', String(Buffer.byteLength(raw)), from.proto, from.address, String(from.port), stackTime(), txnId, dialogId];
    const tail = isNew ? `|${this.host}|${this.sipPort}|` : '|';
    return `${randomUUID()}${leader.join('|')}${tail}${CRLF}${raw}`;
  }

  private sentReply(app: AppConn, msgId: string, to: Target, text: string, txnId: string, dialogId: string | null): void {
    const ids = dialogId === null ? `${txnId}|Msg sent:|` : `${txnId}|${dialogId}||Msg sent:|`;
    app.reply(msgId, `OK|application|${Buffer.byteLength(text)}|${to.proto}|${to.address}|${to.port}|${stackTime()}|${ids}${CRLF}${text}`);
  }

  // ---------------------------------------------------------------- network → edge

  onParseError(err: SipParseError, from: Target): void {
    dropped('malformed');
    this.log.debug({ err: err.message, from }, 'malformed SIP');
    const p = err.partial;
    // A request we can still address gets 400; anything else (responses, no Via) is dropped (RFC 3261 §16.3/§18).
    if (p?.kind === 'request' && p.method !== 'ACK' && header(p, 'via') !== undefined) {
      const r = responseTo(p, 400, `Bad Request (${err.message.replace(/[\r\n]/g, ' ').slice(0, 80)})`);
      this.send(this.responseTarget(p, from), serialize(r));
    }
  }

  onMessage(m: Inbound): void {
    if (this.log.isLevelEnabled('debug')) {
      const line = m.msg.kind === 'request' ? `${m.msg.method} ${m.msg.uri}` : `${m.msg.status} ${m.msg.reason}`;
      this.log.debug({ from: `${m.from.proto}/${m.from.address}:${m.from.port}`, line, callId: header(m.msg, 'call-id') }, 'sip in');
    }
    if (m.msg.kind === 'request') this.onRequest(m.msg, m.from);
    else this.onResponse(m.msg, m.from);
  }

  private serverKey(req: SipRequest, method: string): string {
    const via = parseVia(listValues(req, 'via')[0] ?? '');
    const branch = via?.params.branch;
    if (branch?.startsWith('z9hG4bK')) return `${branch}|${via!.host}:${via!.port ?? ''}|${method}`;
    return `${header(req, 'call-id')}|${tagOf(header(req, 'from'))}|${cseqOf(req)?.seq}|${method}`;
  }

  private onRequest(req: SipRequest, from: Target): void {
    // RFC 3581: note where it really came from so responses find their way back.
    const vias = listValues(req, 'via');
    const top = parseVia(vias[0] ?? '');
    if (!top) return this.onParseError(new SipParseError('unparseable Via'), from);
    let topVia = vias[0]!;
    if (top.host !== from.address) topVia += `;received=${from.address}`;
    if (top.params.rport === '') topVia = topVia.replace(/;rport(?=;|$)/, `;rport=${from.port}`);
    removeHeader(req, 'via');
    req.headers.unshift(...[topVia, ...vias.slice(1)].map((v) => ({ name: 'Via', value: v })));

    const callId = header(req, 'call-id')!;
    const toTag = tagOf(header(req, 'to'));
    // input limits (issue 9 item 4): nothing accepted here can fail the outbox validator later, and keys stay small
    const problem = sipInputProblem({
      callId, requestUri: req.uri, from: header(req, 'from'), to: header(req, 'to'), pai: header(req, 'p-asserted-identity'),
      fromTag: tagOf(header(req, 'from')), toTag,
    });
    if (problem) {
      dropped('malformed');
      if (req.method !== 'ACK') this.send(this.responseTarget(req, from), serialize(responseTo(req, 400, `Bad Request (${problem})`)));
      return;
    }
    // Only a dialog we Record-Routed for an app proxyRequest is loose-routed onwards; any other request naming us in
    // its Route is handled like every other request (to the app, or 481/483), so nothing is relayed (issue 9).
    const routed = this.routedDialogOf(req, from, callId, toTag);
    if (req.method === 'ACK') return routed ? this.looseRouteAck(req, from, routed) : this.onAck(req, from, callId);
    if (req.method === 'CANCEL') return this.onCancel(req, from);

    const key = this.serverKey(req, req.method);
    const existing = this.serverTxns.get(key);
    if (existing) { existing.onRetransmit(); return; }

    if (this.serverTxns.size >= this.maxServerTransactions || (req.method === 'INVITE' && toTag === undefined && this.dialogs.size >= this.maxDialogs)) {
      const busy = responseTo(req, 503, 'Overloaded');
      busy.headers.push({ name: 'Retry-After', value: '5' });
      this.send(this.responseTarget(req, from), serialize(busy));
      return;
    }
    const mf = header(req, 'max-forwards');
    const tx = this.newServerTxn(key, req, from);
    if (mf !== undefined && mf.trim() === '0') return this.respondStateless(tx, 483);
    if (routed) return this.looseRoute(tx, routed);

    if (req.method === 'INVITE') this.respondRaw(tx, responseTo(req, 100));
    if (toTag !== undefined) {
      const d = this.dialogs.findLocal(callId, toTag);
      if (!d || (d.owner as AppConn).closed) return this.respondStateless(tx, 481);
      const seq = cseqOf(req)!.seq;
      if (d.remoteCseq !== undefined && seq < d.remoteCseq) return this.respondStateless(tx, 500, 'CSeq out of order');
      d.remoteCseq = seq;
      tx.dialogId = d.id;
      tx.localTag = d.localTag;
      tx.appOwner = d.owner;
      if (['INVITE', 'UPDATE'].includes(req.method)) {
        const se = parseSessionExpires(header(req, 'session-expires'));
        if (se && se.seconds < MIN_SE) {
          // RFC 4028 §8.1, as drachtio-server answers it (the app never sees the request)
          const tooSmall = responseTo(req, 422, 'Session Interval Too Small', tx.localTag);
          tooSmall.headers.push({ name: 'Min-SE', value: String(MIN_SE) });
          this.respondRaw(tx, tooSmall);
          return;
        }
        this.sessionTimers.fromHeader(d, header(req, 'session-expires'), true);
        const c = header(req, 'contact');
        if (c) d.remoteTarget = uriOf(c);
      }
      if (req.method === 'PRACK') this.onPrack(req, d);
      (d.owner as AppConn).send(this.frameFromNetwork(req, from, tx.id, d.id, false));
      return;
    }
    if (req.method === 'BYE' || req.method === 'UPDATE' || req.method === 'PRACK') return this.respondStateless(tx, 481);
    const app = this.wire.pick(req.method.toLowerCase());
    if (!app) return this.respondStateless(tx, 503, 'No providers available');
    tx.appOwner = app;
    app.send(this.frameFromNetwork(req, from, tx.id, '', true));
  }

  private isOwnUri(uri: string): boolean {
    const u = parseUri(uri);
    return u !== undefined && u.host === this.host && (u.port ?? 5060) === this.sipPort;
  }

  /** The Record-Routed dialog an in-dialog request with our Route on top belongs to, sent by one of its parties. */
  private routedDialogOf(req: SipRequest, from: Target, callId: string, toTag: string | undefined): RoutedDialog | undefined {
    if (toTag === undefined || this.routed.size === 0) return undefined;
    const first = listValues(req, 'route')[0];
    if (first === undefined || !this.isOwnUri(uriOf(first))) return undefined;
    const d = this.routed.find(callId, tagOf(header(req, 'from')), toTag);
    return d?.peers.has(from.address) ? d : undefined;
  }

  /** Pop our Route; the next hop is the next Route or the request URI, and it must be the dialog's other party. */
  private nextHop(req: SipRequest): string {
    const routes = listValues(req, 'route');
    removeHeader(req, 'route');
    const rest = routes.slice(1);
    req.headers.push(...rest.map((r) => ({ name: 'Route', value: r })));
    return rest.length > 0 ? uriOf(rest[0]!) : req.uri;
  }

  private async peerTarget(uri: string, fallback: Proto, d: RoutedDialog): Promise<Target | undefined> {
    const to = await this.resolve(uri, fallback);
    return to && !this.isSelf(to) && d.peers.has(to.address) ? to : undefined;
  }

  private looseRouteAck(req: SipRequest, from: Target, d: RoutedDialog): void {
    void this.peerTarget(this.nextHop(req), from.proto, d).then((to) => {
      if (!to) return;
      req.headers.unshift({ name: 'Via', value: this.via(to.proto, newBranch()) });
      this.send(to, serialize(req));
    });
  }

  /** A request of a dialog we Record-Routed (we proxied its INVITE): pass it on to the other party. */
  private looseRoute(tx: ServerTxn, d: RoutedDialog): void {
    const req = tx.request;
    const next = this.nextHop(req);
    void this.peerTarget(next, tx.from.proto, d).then((to) => {
      if (!to) {
        this.log.warn({ callId: header(req, 'call-id'), next }, 'in-dialog request of a proxied dialog names no party of it; refused');
        return this.respondStateless(tx, 403, 'Forbidden');
      }
      if (req.method === 'BYE') this.routed.remove(d);
      const session = new ProxySession(this.proxyHost, tx, [next], { recordRoute: false, rewriteUri: false, extraHeaders: [] });
      tx.proxy = session;
      session.start();
    });
  }

  /**
   * Where responses go (RFC 3261 §18.2.2, RFC 3581): the connection on TCP; on UDP the source address, and the
   * source port when the client asked for rport, else the port in its Via.
   */
  private responseTarget(req: SipRequest, from: Target): Target {
    if (from.proto !== 'udp') return from;
    const top = parseVia(listValues(req, 'via')[0] ?? '');
    if (!top || top.params.rport !== undefined) return from;
    return { proto: 'udp', address: from.address, port: top.port ?? 5060 };
  }

  private newServerTxn(key: string, req: SipRequest, source: Target): ServerTxn {
    const from = this.responseTarget(req, source);
    const tx = new ServerTxn(key, req, from, this.timers, (text) => this.send(from, text), (t) => {
      this.serverTxns.delete(t.key);
      this.serverById.delete(t.id);
    });
    this.serverTxns.set(key, tx);
    this.serverById.set(tx.id, tx);
    return tx;
  }

  private respondRaw(tx: ServerTxn, res: SipResponse): string {
    const text = serialize(res);
    this.send(tx.from, text);
    tx.responded(res.status, text);
    return text;
  }

  private respondStateless(tx: ServerTxn, status: number, reason?: string): void {
    this.respondRaw(tx, responseTo(tx.request, status, reason, tx.localTag));
  }

  private onAck(ack: SipRequest, from: Target, callId: string): void {
    const inv = this.serverTxns.get(this.serverKey(ack, 'INVITE'));
    if (inv && (inv.state === 'completed' || inv.state === 'confirmed')) { inv.onAck(); return; } // ACK of a non-2xx
    const d = this.dialogs.findLocal(callId, tagOf(header(ack, 'to')));
    if (!d) return; // stray ACK: RFC 3261 §17.2.3 says drop it
    if (d.pending2xx) {
      const inviteSeq = cseqOf(d.pending2xx.txn.request)?.seq;
      if (inviteSeq !== cseqOf(ack)?.seq) return;
      clearTimeout(d.pending2xx.timer);
      clearTimeout(d.pending2xx.giveUp);
      d.pending2xx = undefined;
    } else return; // retransmitted ACK: the app has seen it already
    d.state = 'confirmed';
    (d.owner as AppConn).send(this.frameFromNetwork(ack, from, randomUUID(), d.id, false));
  }

  private onCancel(cancel: SipRequest, from: Target): void {
    const inv = this.serverTxns.get(this.serverKey(cancel, 'INVITE'));
    const to = this.responseTarget(cancel, from);
    if (!inv) { this.send(to, serialize(responseTo(cancel, 481))); return; }
    // 200 to the CANCEL, 487 to the INVITE if it is still open, then tell the app (reference §1.6 "Inbound CANCEL").
    this.send(to, serialize(responseTo(cancel, 200, undefined, inv.localTag)));
    if (inv.finalStatus !== 0 || inv.canceled) return;
    inv.canceled = true;
    if (inv.proxy) {
      inv.proxy.cancel(cancel.headers.filter((h) => ['reason', 'x-reason'].includes(canonicalName(h.name))));
      return;
    }
    if (!inv.localTag) inv.localTag = newTag();
    this.respondRaw(inv, responseTo(inv.request, 487, undefined, inv.localTag));
    const d = inv.dialogId ? this.dialogs.get(inv.dialogId) : undefined;
    if (d) this.dialogs.remove(d, true);
    const app = inv.appOwner as AppConn | undefined;
    if (app && !app.closed) app.send(this.frameFromNetwork(cancel, from, inv.id, d ? d.id : '', false));
  }

  private onResponse(res: SipResponse, from: Target): void {
    const via = parseVia(listValues(res, 'via')[0] ?? '');
    const cseq = cseqOf(res);
    if (!via || !cseq) return;
    const tx = this.clientTxns.get(`${via.params.branch}|${cseq.method}`);
    // RFC 3261 §18.1.2: drop. Like sofia, a CSeq number other than the request's is no match either.
    if (!tx || cseqOf(tx.request)?.seq !== cseq.seq) { dropped('stray_response'); return; }
    // only from where the request went: a forged response from elsewhere must not answer or end our call
    if (from.address !== tx.to.address) {
      dropped('response_source');
      this.log.debug({ from: `${from.address}:${from.port}`, expected: tx.to.address, status: res.status }, 'response from another address than its request went to: dropped');
      return;
    }
    const meta = this.clientMeta.get(tx.id);
    if (meta?.proxy) {
      const retransmitted2xx = tx.isInvite && res.status >= 200 && res.status < 300 && tx.state === 'accepted';
      const fresh = retransmitted2xx || tx.onResponse(res.status);
      if (tx.isInvite && res.status >= 300 && tx.state === 'completed') this.send(tx.to, serialize(nonSuccessAck(tx.request, res)));
      if (tx.isInvite && res.status < 200 && tx.cancelPending) {
        const c = tx.cancelPending;
        tx.cancelPending = undefined;
        this.sendCancelNow(tx, c);
      }
      if (fresh) meta.proxy.onResponse(res, from, retransmitted2xx);
      return;
    }
    if (tx.isInvite && res.status >= 200 && res.status < 300 && tx.state === 'accepted') {
      // retransmitted 2xx: the ACK got lost, send it again
      const d = meta?.dialog;
      if (d?.lastAck) this.send(d.lastAck.to, d.lastAck.text);
      return;
    }
    const fresh = tx.onResponse(res.status);
    if (tx.isInvite && res.status >= 300 && tx.state === 'completed') this.send(tx.to, serialize(nonSuccessAck(tx.request, res)));
    if (!fresh || !meta) return;
    if (res.status === 100) return; // the stack absorbs 100 Trying, as sofia does
    const d = meta.dialog;
    const forming = d !== undefined && tx.isInvite && d.state === 'early';
    if (d && tx.isInvite) this.updateUacDialog(d, res);
    if (d && forming && res.status >= 200 && res.status < 300 && header(res, 'session-expires') !== undefined) {
      this.sessionTimers.fromHeader(d, header(res, 'session-expires'), false);
    }
    if (tx.isInvite && res.status < 200 && tx.cancelPending) {
      const c = tx.cancelPending;
      tx.cancelPending = undefined;
      this.sendCancelNow(tx, c);
    }
    if (d && cseq.method === 'BYE' && res.status >= 200) this.dialogs.remove(d);
    if (d && tx.isInvite && !this.freshReliable(d, res)) return;
    if (meta.app && !meta.app.closed) meta.app.send(this.frameFromNetwork(res, from, tx.id, d?.id ?? '', false));
  }

  /**
   * RFC 3262 §4 (sofia's outgoing_recv_reliable): a reliable provisional whose RSeq is not the next one is a
   * retransmission or out of order and is not passed to the app again (the app's PRACK has its own transaction).
   */
  private freshReliable(d: Dialog, res: SipResponse): boolean {
    const rseq = Number(header(res, 'rseq'));
    if (res.status <= 100 || res.status >= 200 || !Number.isSafeInteger(rseq) || rseq <= 0) return true;
    if (d.lastRseq !== undefined && rseq !== d.lastRseq + 1) return false;
    d.lastRseq = rseq;
    return true;
  }

  private updateUacDialog(d: Dialog, res: SipResponse): void {
    const toTag = tagOf(header(res, 'to'));
    const initial = d.remoteTag === undefined || d.state === 'early';
    if (res.status >= 300) {
      if (initial) this.dialogs.remove(d, true);
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

  // ---------------------------------------------------------------- app → edge

  /**
   * An app disconnected. Its calls are lost with it (the app ends them on its side too: src/sip/app.ts serverDown),
   * and nothing would ever hang them up: so calls still ringing toward it get 503, INVITEs it sent that are still
   * ringing are CANCELled, and its established dialogs get a BYE. Their session timers stop with them, so a departed
   * app's carrier leg is never refreshed. (drachtio-server keeps such dialogs, and refreshes them: docs/edge.md.)
   */
  onAppGone(app: AppConn): void {
    const reason = { name: 'Reason', value: 'SIP;cause=503;text="application gone"' };
    for (const tx of this.serverById.values()) {
      if (tx.appOwner === app && tx.finalStatus === 0 && tx.request.method !== 'ACK') this.respondStateless(tx, 503);
    }
    for (const tx of this.clientById.values()) {
      if (this.clientMeta.get(tx.id)?.app !== app || !tx.isInvite || tx.canceled || tx.finalStatus !== 0) continue;
      if (tx.state !== 'calling' && tx.state !== 'proceeding') continue;
      tx.canceled = true;
      const cancel: SipRequest = { kind: 'request', method: 'CANCEL', uri: tx.request.uri, headers: [reason], body: '' };
      if (tx.state === 'calling') tx.cancelPending = cancel;
      else this.sendCancelNow(tx, cancel);
    }
    for (const d of this.dialogs.all()) {
      if (d.owner !== app) continue;
      if (d.state === 'confirmed') void this.sendInDialog(d, { kind: 'request', method: 'BYE', uri: 'sip:placeholder', headers: [reason], body: '' }).catch(() => undefined);
      this.dialogs.remove(d);
    }
  }

  /** `id|proxy|txnId|remainInDialog|fullResponse|followRedirects|simultaneous|serial|provT|finalT|dest…` (serial only). */
  onProxy(app: AppConn, tokens: string[], body: string): void {
    const msgId = tokens[0] ?? '';
    const tx = this.serverById.get(tokens[2] ?? '');
    if (!tx || tx.finalStatus !== 0 || tx.proxy) { app.reply(msgId, 'NOK|unknown transaction or already answered'); return; }
    const dests = tokens.slice(9).filter((d) => d !== '');
    if (dests.length === 0) { app.reply(msgId, 'NOK|no destination'); return; }
    let extra: { name: string; value: string }[] = [];
    try {
      const m = parseAppMessage(body.endsWith('\r\n\r\n') ? body : `${body}\r\n`);
      extra = this.appHeaders(m).filter((h) => !['via', 'from', 'to', 'call-id', 'cseq', 'contact'].includes(canonicalName(h.name)));
    } catch {
      // srf's proxy message is just a start line plus the optional headers; an unparseable one adds nothing
    }
    const session = new ProxySession(this.proxyHost, tx, dests, { recordRoute: tokens[3] === 'remainInDialog', rewriteUri: true, extraHeaders: extra },
      { report: (rest) => { if (!app.closed) app.reply(msgId, rest); } });
    tx.proxy = session;
    session.start();
  }

  onSip(app: AppConn, tokens: string[], body: string): void {
    const msgId = tokens[0] ?? '';
    const txnId = tokens[2] ?? '';
    const dialogId = tokens[3] ?? '';
    const routeUrl = tokens[4] ?? '';
    let msg: SipMessage;
    try {
      msg = parseAppMessage(body);
    } catch (err) {
      app.reply(msgId, `NOK|invalid SIP message: ${(err as Error).message.replace(/[|\r\n]/g, ' ')}`);
      return;
    }
    const fail = (reason: string): void => app.reply(msgId, `NOK|${reason}`);
    const run = async (): Promise<void> => {
      if (msg.kind === 'response') return this.appResponse(app, msgId, txnId, msg, fail);
      if (dialogId !== '') return this.appInDialog(app, msgId, dialogId, msg, fail);
      if (txnId !== '' && msg.method === 'CANCEL') return this.appCancel(app, msgId, txnId, msg, fail);
      const callId = header(msg, 'call-id');
      if (callId !== undefined) {
        const d = this.dialogs.withCallId(callId).find((x) => x.owner === app);
        if (d) return this.appInDialog(app, msgId, d.id, msg, fail);
      }
      return this.appNewRequest(app, msgId, msg, routeUrl, fail);
    };
    run().catch((err: unknown) => {
      this.log.error({ err }, 'error handling app sip message');
      fail(`Server error: ${(err as Error).message}`);
    });
  }

  /** Copy the app's headers minus the ones the stack owns; rewrite @localhost to our SIP address. */
  private appHeaders(msg: SipMessage): { name: string; value: string }[] {
    const hp = `@${this.host}:${this.sipPort}`;
    return msg.headers
      .filter((h) => !IMMUTABLE.has(canonicalName(h.name)))
      .map((h) => ['from', 'to', 'contact', 'p-asserted-identity'].includes(canonicalName(h.name))
        ? { name: h.name, value: h.value.replace(/@localhost(?![\w.-])/g, hp) } : h);
  }

  private contentTypeCheck(msg: SipMessage): string | undefined {
    if (msg.body === '' || header(msg, 'content-type') !== undefined) return undefined;
    if (msg.body.startsWith('v=0')) { msg.headers.push({ name: 'Content-Type', value: 'application/sdp' }); return undefined; }
    return 'missing content-type';
  }

  private async appResponse(app: AppConn, msgId: string, txnId: string, msg: SipResponse, fail: (r: string) => void): Promise<void> {
    const tx = this.serverById.get(txnId);
    if (!tx || tx.state === 'terminated') return fail('Response not sent due to unknown transaction');
    const req = tx.request;
    if (req.method === 'CANCEL') return fail('200 OK to incoming CANCEL is automatically generated by the stack');
    if (tx.finalStatus !== 0 || tx.reliable?.finalWaiting) return fail('Response not sent due to unknown transaction');
    const ctErr = this.contentTypeCheck(msg);
    if (ctErr) return fail(ctErr);
    const status = msg.status;
    const appTo = header(msg, 'to');
    const appTag = tagOf(appTo);
    if (status > 100 && !tx.localTag) tx.localTag = appTag ?? newTag();
    const base = responseTo(req, status, msg.reason || REASONS[status], tx.localTag);
    const skip = new Set(['via', 'from', 'to', 'call-id', 'cseq']);
    const extra = this.appHeaders(msg).filter((h) => !skip.has(canonicalName(h.name)));
    const res: SipResponse = { ...base, headers: [...base.headers, ...extra], body: msg.body };
    const isInvite = req.method === 'INVITE';
    const dialogForming = isInvite && status > 100 && status < 300;
    if (dialogForming) {
      // The UAS copies Record-Route into dialog-forming responses (RFC 3261 §12.1.1).
      const rr = headerValues(req, 'record-route');
      if (rr.length > 0) res.headers.push(...rr.map((v) => ({ name: 'Record-Route', value: v })));
      if (header(res, 'contact') === undefined) res.headers.push({ name: 'Contact', value: this.contact(tx.from.proto) });
    }
    const reliable = isInvite && status > 100 && status < 200 && listValues(msg, 'require').some((t) => t.toLowerCase() === '100rel');
    if (reliable && !offers100rel(req)) return fail('Remote endpoint does not support 100rel'); // sofia's reliable_check
    let rseq = 0;
    if (reliable) {
      tx.reliable ??= new ReliableUas(this.timers, tx.from.proto === 'udp', (t) => this.send(tx.from, t), () => this.reliableTimeout(tx));
      rseq = tx.reliable.takeRseq();
      res.headers.push({ name: 'RSeq', value: String(rseq) });
    }
    const callId = header(req, 'call-id')!;
    const remoteTag = tagOf(header(req, 'from')) ?? '';
    let dialogId = tx.dialogId;
    if (isInvite && dialogId === '') dialogId = `${callId};from-tag=${remoteTag}`;
    if (dialogForming && tx.dialogId === '') this.ensureUasDialog(app, tx, dialogId, res);
    const text = serialize(res);
    const emit = (): void => {
      this.send(tx.from, text);
      tx.responded(status, text);
      const d = this.dialogs.get(dialogId);
      if (isInvite && status >= 200 && status < 300 && d) {
        this.start2xxRetransmit(d, tx, text);
        if (msg.body !== '') d.localSdp = msg.body;
        // the app's 2xx to the INVITE that formed the dialog arms its session timer (peer re-INVITEs arm on arrival)
        if (cseqOf(req)!.seq === d.inviteCseqRemote && header(res, 'session-expires') !== undefined) this.sessionTimers.fromHeader(d, header(res, 'session-expires'), true);
      }
      if (isInvite && status >= 300 && d && d.state === 'early' && tx.dialogId === dialogId && d.role === 'uas' && cseqOf(req)!.seq === d.inviteCseqRemote) {
        this.dialogs.remove(d, true);
      }
      if (req.method === 'BYE' && status >= 200 && d) this.dialogs.remove(d);
    };
    if (reliable) {
      const d = this.dialogs.get(dialogId);
      if (d) d.reliable = tx.reliable;
      tx.reliable!.provisional(rseq, text, msg.body !== '', emit);
    } else if (status >= 200 && tx.reliable) tx.reliable.final(status, emit);
    else emit();
    this.sentReply(app, msgId, tx.from, text, tx.id, dialogId);
  }

  /** A PRACK in an early UAS dialog: if its RAck names our outstanding reliable provisional, that one is acknowledged. */
  private onPrack(req: SipRequest, d: Dialog): void {
    const rack = parseRack(header(req, 'rack'));
    if (d.reliable && rack && rack.method === 'INVITE' && rack.cseq === d.inviteCseqRemote) d.reliable.prack(rack.rseq);
  }

  /** No PRACK for a reliable provisional within 64*T1: the INVITE is refused, as sofia does. */
  private reliableTimeout(tx: ServerTxn): void {
    if (tx.finalStatus !== 0) return;
    this.log.info({ callId: header(tx.request, 'call-id') }, 'reliable provisional never PRACKed: INVITE refused');
    this.respondStateless(tx, 503, 'Reliable Response Time-Out');
    const d = this.dialogs.get(tx.dialogId);
    if (d && d.state === 'early' && d.role === 'uas') this.dialogs.remove(d, true);
  }

  private ensureUasDialog(app: AppConn, tx: ServerTxn, id: string, res: SipResponse): void {
    const req = tx.request;
    let d = this.dialogs.get(id);
    if (!d) {
      d = {
        id, role: 'uas', state: 'early', callId: header(req, 'call-id')!, localTag: tx.localTag!,
        remoteTag: tagOf(header(req, 'from')), localUri: header(res, 'to')!, remoteUri: header(req, 'from')!,
        remoteTarget: uriOf(header(req, 'contact') ?? `<${req.uri}>`), routeSet: listValues(req, 'record-route'),
        localCseq: 1, inviteCseq: 0, inviteCseqRemote: cseqOf(req)!.seq, remoteCseq: cseqOf(req)!.seq, proto: tx.from.proto,
        fallback: tx.from, owner: app,
      };
      this.dialogs.add(d);
    }
    tx.dialogId = id;
    if (res.status >= 200) d.state = 'confirmed';
  }

  /** UDP: the UAS core retransmits its 2xx until the ACK (RFC 3261 §13.3.1.4). */
  private start2xxRetransmit(d: Dialog, tx: ServerTxn, text: string): void {
    if (d.pending2xx) { clearTimeout(d.pending2xx.timer); clearTimeout(d.pending2xx.giveUp); }
    const p: NonNullable<Dialog['pending2xx']> = { txn: tx };
    d.pending2xx = p;
    if (tx.from.proto === 'udp') {
      const again = (interval: number): void => {
        p.timer = setTimeout(() => { this.send(tx.from, text); again(Math.min(interval * 2, this.timers.T2)); }, interval);
        p.timer.unref?.();
      };
      again(this.timers.T1);
    }
    p.giveUp = setTimeout(() => {
      if (d.pending2xx !== p) return;
      clearTimeout(p.timer);
      d.pending2xx = undefined;
      this.log.warn({ callId: d.callId }, 'no ACK for 2xx; ending the dialog');
      this.unsolicitedBye(d, 'ACK timeout');
    }, 64 * this.timers.T1);
    p.giveUp.unref?.();
  }

  /** The stack tears a dialog down by itself: BYE on the wire and an `unsolicited` BYE to the app (reference §1.7). */
  private unsolicitedBye(d: Dialog, why: string): void {
    const reason = `SIP;cause=200;text="${why}"`;
    void this.sendInDialog(d, { kind: 'request', method: 'BYE', uri: 'sip:placeholder', headers: [{ name: 'Reason', value: reason }], body: '' })
      .catch(() => undefined);
    const app = d.owner as AppConn;
    const bye: SipRequest = {
      kind: 'request', method: 'BYE', uri: d.remoteTarget, body: '',
      headers: [
        { name: 'Via', value: this.via(d.proto, newBranch()) }, { name: 'From', value: d.remoteUri }, { name: 'To', value: d.localUri },
        { name: 'Call-ID', value: d.callId }, { name: 'CSeq', value: `${d.localCseq} BYE` }, { name: 'Reason', value: reason },
      ],
    };
    const raw = serialize(bye);
    if (!app.closed) app.send(`${randomUUID()}|sip|application|${Buffer.byteLength(raw)}|${d.proto}|${this.host}|${this.sipPort}|${stackTime()}|unsolicited|${d.id}|${CRLF}${raw}`);
    this.dialogs.remove(d);
  }

  private async appInDialog(app: AppConn, msgId: string, dialogId: string, msg: SipRequest, fail: (r: string) => void): Promise<void> {
    const d = this.dialogs.get(dialogId);
    if (!d) {
      if (msg.method === 'ACK' && this.dialogs.recentlyFailed(dialogId)) return fail('ACK for non-success responses is automatically generated by the stack');
      return fail('Server error: unable to find dialog for dialog id provided');
    }
    const ctErr = this.contentTypeCheck(msg);
    if (ctErr) return fail(ctErr);
    const sent = await this.sendInDialog(d, msg);
    if (!sent) return fail('Server error: unable to route request in dialog');
    this.sentReply(app, msgId, sent.to, sent.text, sent.txnId, null);
  }

  /** Builds and sends a request inside dialog `d`; ACK reuses the INVITE CSeq, everything else increments it. */
  private async sendInDialog(d: Dialog, msg: SipRequest, internal?: ProxyResponseHandler): Promise<{ to: Target; text: string; txnId: string } | undefined> {
    const routing = inDialogRouting(d);
    const to = await this.resolve(routing.nextHop, d.proto, d.fallback);
    if (!to) return undefined;
    const method = msg.method;
    const seq = method === 'ACK' ? d.inviteCseq : ++d.localCseq;
    if (method === 'INVITE') d.inviteCseq = seq;
    const branch = newBranch();
    const own = new Set(['from', 'to', 'call-id', 'cseq', 'max-forwards']);
    const headers = [
      { name: 'Via', value: this.via(to.proto, branch) },
      ...routing.routes.map((r) => ({ name: 'Route', value: r })),
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: d.localUri },
      { name: 'To', value: d.remoteUri },
      { name: 'Call-ID', value: d.callId },
      { name: 'CSeq', value: `${seq} ${method}` },
      ...this.appHeaders(msg).filter((h) => !own.has(canonicalName(h.name))),
    ];
    if (method === 'INVITE' && !headers.some((h) => canonicalName(h.name) === 'contact')) headers.push({ name: 'Contact', value: this.contact(d.proto) });
    const uri = msg.uri.includes('placeholder') || method === 'ACK' || method === 'PRACK' ? routing.ruri : msg.uri;
    const req: SipRequest = { kind: 'request', method, uri, headers, body: msg.body };
    const text = serialize(req);
    if (['INVITE', 'UPDATE', 'ACK'].includes(method) && msg.body !== '') d.localSdp = msg.body;
    if (method === 'ACK') {
      d.lastAck = { text, to };
      this.send(to, text);
      return { to, text, txnId: randomUUID() };
    }
    const tx = internal ? this.startClientTxn(undefined, req, text, to, branch, undefined, internal) : this.startClientTxn(d.owner as AppConn, req, text, to, branch, d);
    return { to, text, txnId: tx.id };
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
        if (retransmission) {
          if (d.lastAck) this.send(d.lastAck.to, d.lastAck.text);
          return;
        }
        void this.sendInDialog(d, { kind: 'request', method: 'ACK', uri: 'sip:placeholder', headers: [], body: '' });
        if (!d.removed) this.sessionTimers.fromHeader(d, header(res, 'session-expires'), false);
      },
      onFailure: (status) => ended(`refresh ${status}`),
    };
    this.sendInDialog(d, refresh, handler).then((sent) => { if (!sent) ended('no route'); }, () => ended('send error'));
  }

  private startClientTxn(app: AppConn | undefined, req: SipRequest, text: string, to: Target, branch: string, dialog?: Dialog, proxy?: ProxyResponseHandler): ClientTxn {
    // a TCP peer that cannot be reached fails the request at once with 503, as sofia does
    const send = (t: string): void => {
      this.transports.send(to, t).catch((err: unknown) => {
        this.log.warn({ err, to }, 'sip send failed');
        if (to.proto !== 'udp') tx.fail(503);
      });
    };
    const tx: ClientTxn = new ClientTxn(branch, req, text, to, this.timers, send, (t, status) => this.clientFailed(t, status), (t) => {
      this.clientTxns.delete(`${t.branch}|${t.request.method}`);
      this.clientById.delete(t.id);
      this.clientMeta.delete(t.id);
      this.dropPeer(t.to.address);
    });
    this.addPeer(to.address);
    this.clientTxns.set(`${branch}|${req.method}`, tx);
    this.clientById.set(tx.id, tx);
    this.clientMeta.set(tx.id, { ...(app ? { app } : {}), ...(dialog ? { dialog } : {}), ...(proxy ? { proxy } : {}) });
    tx.start();
    return tx;
  }

  /** Timer B/F (408) or transport failure (503): the app gets that response as if the far end had sent it (as sofia does). */
  private clientFailed(tx: ClientTxn, status: number): void {
    const meta = this.clientMeta.get(tx.id);
    if (!meta) return;
    if (meta.proxy) { meta.proxy.onFailure(status); return; }
    const d = meta.dialog;
    const res = localFailure(tx.request, status);
    if (d && (tx.isInvite ? d.state === 'early' || d.remoteTag === undefined : tx.request.method === 'BYE')) this.dialogs.remove(d, true);
    if (meta.app && !meta.app.closed) meta.app.send(this.frameFromNetwork(res, tx.to, tx.id, d?.id ?? '', false));
  }

  private async appCancel(app: AppConn, msgId: string, txnId: string, msg: SipRequest, fail: (r: string) => void): Promise<void> {
    const tx = this.clientById.get(txnId);
    if (!tx || !tx.isInvite || tx.state === 'terminated') return fail('Server error: unknown transaction for CANCEL');
    if (tx.finalStatus !== 0 || tx.canceled) return fail('Server error: INVITE already completed');
    tx.canceled = true;
    const cancel = cancelRequest(tx.request, msg);
    const text = serialize(cancel);
    if (tx.state === 'calling') tx.cancelPending = msg; // RFC 3261 §9.1: not before a provisional
    else this.sendCancelNow(tx, msg);
    this.sentReply(app, msgId, tx.to, text, randomUUID(), null);
  }

  private sendCancelNow(tx: ClientTxn, appMsg: SipRequest): void {
    const cancel = cancelRequest(tx.request, appMsg);
    // The CANCEL's own transaction: its 200 is never passed up (sofia does not either).
    const ctx = new ClientTxn(tx.branch, cancel, serialize(cancel), tx.to, this.timers, (t) => this.send(tx.to, t), () => undefined, (t) => {
      this.clientTxns.delete(`${t.branch}|CANCEL`);
    });
    this.clientTxns.set(`${tx.branch}|CANCEL`, ctx);
    ctx.start();
    if (tx.isInvite) tx.expireAfterCancel((t) => this.cancelExpired(t));
  }

  /** No final response after our CANCEL: like drachtio-server, the INVITE is torn down without telling the app. */
  private cancelExpired(tx: ClientTxn): void {
    const meta = this.clientMeta.get(tx.id);
    this.log.info({ callId: header(tx.request, 'call-id') }, 'no final response 64*T1 after CANCEL: INVITE transaction torn down');
    if (meta?.proxy) meta.proxy.onFailure(408);
    else if (meta?.dialog && meta.dialog.state === 'early') this.dialogs.remove(meta.dialog, true);
  }

  private async appNewRequest(app: AppConn, msgId: string, msg: SipRequest, routeUrl: string, fail: (r: string) => void): Promise<void> {
    if (msg.method === 'ACK') return fail('ACK for non-success responses is automatically generated by the stack');
    if (!parseUri(msg.uri)) return fail(`invalid request-uri: ${msg.uri.replace(/[|\r\n]/g, ' ')}`);
    const ctErr = this.contentTypeCheck(msg);
    if (ctErr) return fail(ctErr);
    const defaultProto: Proto = this.transports.has('udp') ? 'udp' : 'tcp';
    const to = await this.resolve(routeUrl !== '' ? routeUrl : msg.uri, defaultProto);
    if (!to) return fail(`invalid request-uri: could not resolve ${msg.uri.replace(/[|\r\n]/g, ' ')}`);
    if (this.isSelf(to)) return fail('can not send request to myself');
    if (!this.transports.has(to.proto)) return fail(`transport ${to.proto} is not enabled`);
    const method = msg.method;
    const headers = this.appHeaders(msg);
    const get = (n: string): string | undefined => headers.find((h) => canonicalName(h.name) === n)?.value;
    const set = (n: string, v: string): void => {
      const i = headers.findIndex((h) => canonicalName(h.name) === canonicalName(n));
      if (i >= 0) headers[i] = { name: n, value: v }; else headers.push({ name: n, value: v });
    };
    let from = get('from') ?? `<sip:${this.host}:${this.sipPort}>`;
    if (tagOf(from) === undefined) from += `;tag=${newTag()}`;
    set('From', from);
    if (get('to') === undefined) set('To', `<${msg.uri}>`);
    const callId = get('call-id') ?? randomUUID();
    set('Call-ID', callId);
    const appSeq = /^\s*(\d+)/.exec(get('cseq') ?? '')?.[1];
    // a random first CSeq (< 2^31, RFC 3261 §8.1.1.5), as sofia picks one: peers must echo it, not assume 1
    const seq = appSeq !== undefined ? Number(appSeq) : randomInt(1, 2 ** 30);
    set('CSeq', `${seq} ${method}`);
    if (get('max-forwards') === undefined) set('Max-Forwards', '70');
    if (['INVITE', 'SUBSCRIBE', 'REFER'].includes(method) && get('contact') === undefined) set('Contact', this.contact(to.proto));
    const branch = newBranch();
    headers.unshift({ name: 'Via', value: this.via(to.proto, branch) });
    const req: SipRequest = { kind: 'request', method, uri: msg.uri, headers, body: msg.body };
    let dialog: Dialog | undefined;
    if (method === 'INVITE') {
      const localTag = tagOf(from)!;
      dialog = {
        id: `${callId};from-tag=${localTag}`, role: 'uac', state: 'early', callId, localTag,
        localUri: from, remoteUri: get('to')!, remoteTarget: msg.uri, routeSet: [], localCseq: seq, inviteCseq: seq,
        inviteCseqRemote: 0, proto: to.proto, fallback: to, owner: app, ...(msg.body !== '' ? { localSdp: msg.body } : {}),
      };
      this.dialogs.add(dialog);
    }
    const text = serialize(req);
    const tx = this.startClientTxn(app, req, text, to, branch, dialog);
    this.sentReply(app, msgId, to, text, tx.id, null);
  }

  stats(): { dialogs: number; serverTransactions: number; clientTransactions: number } {
    return { dialogs: this.dialogs.size, serverTransactions: this.serverById.size, clientTransactions: this.clientById.size };
  }

  close(): void {
    for (const t of this.serverById.values()) t.terminate();
    for (const t of this.clientById.values()) t.terminate();
    for (const d of this.dialogs.all()) this.dialogs.remove(d);
    this.routed.clear();
  }
}
