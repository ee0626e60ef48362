/**
 * The edge's shared state: the transaction and dialog tables, the peers our requests went to, the transports, and
 * the primitives every part uses on them (address, send, frame for the app, register a transaction, respond).
 * Invariants kept here:
 * - a transaction is in its tables exactly while it lives (added when made, removed when it terminates);
 * - `peers` counts, per address, the live client transactions sent there: the door lets their responses in, and
 *   lets an address in no longer than a request of ours is open to it;
 * - every client transaction has an owner to report to: the app that placed it, or a handler of the edge's own
 *   (a proxy branch, a session refresh).
 */
import assert from 'node:assert';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import { listValues, parseUri, parseVia, serialize, type SipMessage, type SipRequest, type SipResponse } from './sip/message.js';
import { ClientTxn, ServerTxn } from './transactions.js';
import { DialogStore, type Dialog } from './dialogs.js';
import { RoutedDialogs } from './routed.js';
import type { ProxyResponseHandler } from './proxy.js';
import type { Transports, Proto, Target } from './transport.js';
import type { AppConn, WireServer } from './wire/server.js';
import type { SipTimers } from './timers.js';
import { localFailure, responseTo, stackTime } from './builders.js';

const CRLF = '\r\n';

/** Whom a client transaction reports to: the app (and the dialog it belongs to), or the edge's own handler. */
export interface ClientMeta { app: AppConn | undefined; dialog: Dialog | undefined; proxy: ProxyResponseHandler | undefined }

export class EdgeState {
  readonly dialogs = new DialogStore();
  /** Dialogs we Record-Routed for an app proxyRequest: the only requests the edge forwards by itself. */
  readonly routed = new RoutedDialogs();
  /** By transaction key (transactions.ts serverKey): how a retransmission, ACK or CANCEL finds its transaction. */
  readonly serverTxns = new Map<string, ServerTxn>();
  /** By txnId: how the app's response finds its transaction. */
  readonly serverById = new Map<string, ServerTxn>();
  /** By `<branch>|<method>`: how a response finds its request. */
  readonly clientTxns = new Map<string, ClientTxn>();
  readonly clientById = new Map<string, ClientTxn>();
  readonly clientMeta = new Map<string, ClientMeta>();
  /** Addresses we sent requests to (live client transactions): their responses pass the source filter. */
  readonly peers = new Map<string, number>();
  /** The control port; set by the core once it listens. */
  wire!: WireServer;

  constructor(
    readonly host: string,
    readonly transports: Transports,
    readonly timers: SipTimers,
    readonly log: Logger,
  ) {}

  // ---------------------------------------------------------------- addresses

  get sipPort(): number { return this.transports.port; }

  hostports(): string {
    return (['udp', 'tcp'] as Proto[]).filter((p) => this.transports.has(p)).map((p) => `${p}/${this.host}:${this.sipPort}`).join(',');
  }

  contact(proto: Proto): string {
    return `<sip:${this.host}:${this.sipPort}${proto === 'udp' ? '' : `;transport=${proto}`}>`;
  }

  recordRoute(proto: Proto): string {
    return `<sip:${this.host}:${this.sipPort};lr${proto === 'udp' ? '' : `;transport=${proto}`}>`;
  }

  via(proto: Proto, branch: string): string {
    return `SIP/2.0/${proto.toUpperCase()} ${this.host}:${this.sipPort};rport;branch=${branch}`;
  }

  isSelf(t: Target): boolean {
    return (t.address === this.host || (this.host === '0.0.0.0' && t.address === '127.0.0.1')) && t.port === this.sipPort;
  }

  isOwnUri(uri: string): boolean {
    const u = parseUri(uri);
    return u !== undefined && u.host === this.host && (u.port ?? 5060) === this.sipPort;
  }

  async resolve(uri: string, fallback: Proto, defaultTarget?: Target): Promise<Target | undefined> {
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

  /**
   * Where responses go (RFC 3261 §18.2.2, RFC 3581): the connection on TCP; on UDP the source address, and the
   * source port when the client asked for rport, else the port in its Via.
   */
  responseTarget(req: SipRequest, from: Target): Target {
    if (from.proto !== 'udp') return from;
    const top = parseVia(listValues(req, 'via')[0] ?? '');
    if (!top || top.params.rport !== undefined) return from;
    return { proto: 'udp', address: from.address, port: top.port ?? 5060 };
  }

  // ---------------------------------------------------------------- sending

  send(to: Target, text: string): void {
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ to: `${to.proto}/${to.address}:${to.port}`, line: text.slice(0, text.indexOf('\r\n')), callId: /\r\n(?:Call-ID|i)\s*:\s*([^\r]*)/i.exec(text)?.[1] }, 'sip out');
    }
    this.transports.send(to, text).catch((err: unknown) => this.log.warn({ err, to }, 'sip send failed'));
  }

  /** A network message for the app: the 11-token form (with our address) for a new request, else the 10-token one. */
  frameFromNetwork(msg: SipMessage, from: Target, txnId: string, dialogId: string, isNew: boolean): string {
    const raw = serialize(msg);
    const leader = ['', 'sip', 'network', String(Buffer.byteLength(raw)), from.proto, from.address, String(from.port), stackTime(), txnId, dialogId];
    const tail = isNew ? `|${this.host}|${this.sipPort}|` : '|';
    return `${randomUUID()}${leader.join('|')}${tail}${CRLF}${raw}`;
  }

  /** The app's own message went out: `OK|application|…` with what was sent. */
  sentReply(app: AppConn, msgId: string, to: Target, text: string, txnId: string, dialogId: string | null): void {
    const ids = dialogId === null ? `${txnId}|Msg sent:|` : `${txnId}|${dialogId}||Msg sent:|`;
    app.reply(msgId, `OK|application|${Buffer.byteLength(text)}|${to.proto}|${to.address}|${to.port}|${stackTime()}|${ids}${CRLF}${text}`);
  }

  // ---------------------------------------------------------------- server transactions

  newServerTxn(key: string, req: SipRequest, source: Target): ServerTxn {
    const from = this.responseTarget(req, source);
    const tx = new ServerTxn(key, req, from, this.timers, (text) => this.send(from, text), (t) => {
      this.serverTxns.delete(t.key);
      this.serverById.delete(t.id);
    });
    this.serverTxns.set(key, tx);
    this.serverById.set(tx.id, tx);
    return tx;
  }

  respondRaw(tx: ServerTxn, res: SipResponse): string {
    const text = serialize(res);
    this.send(tx.from, text);
    tx.responded(res.status, text);
    return text;
  }

  respondStateless(tx: ServerTxn, status: number, reason?: string): void {
    this.respondRaw(tx, responseTo(tx.request, status, reason, tx.localTag));
  }

  // ---------------------------------------------------------------- client transactions

  /** Send a request in a client transaction of its own; `app` or `proxy` is told what comes back. */
  startClientTxn(app: AppConn | undefined, req: SipRequest, text: string, to: Target, branch: string, dialog?: Dialog, proxy?: ProxyResponseHandler): ClientTxn {
    assert(app !== undefined || proxy !== undefined, 'a request leaves the edge only for an app or a handler of its own');
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
    this.clientMeta.set(tx.id, { app, dialog, proxy });
    tx.start();
    return tx;
  }

  /** The CANCEL of our INVITE `inv` (same branch): its own transaction, whose 200 is never passed up (sofia does not either). */
  startCancelTxn(inv: ClientTxn, cancel: SipRequest): void {
    const ctx = new ClientTxn(inv.branch, cancel, serialize(cancel), inv.to, this.timers, (t) => this.send(inv.to, t), () => undefined, (t) => {
      this.clientTxns.delete(`${t.branch}|CANCEL`);
    });
    this.clientTxns.set(`${inv.branch}|CANCEL`, ctx);
    ctx.start();
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

  private addPeer(address: string): void { this.peers.set(address, (this.peers.get(address) ?? 0) + 1); }

  private dropPeer(address: string): void {
    const n = (this.peers.get(address) ?? 1) - 1;
    if (n <= 0) this.peers.delete(address); else this.peers.set(address, n);
  }
}
