/**
 * Stateful proxying for srf's `req.proxy()` / `srf.proxyRequest()` (wire verb `proxy`), serial over the
 * destinations, plus loose-routing of in-dialog requests that carry our Record-Route (RFC 3261 §16).
 * Each final response is reported to the app as `OK|network|…|continue`, then `OK|done`.
 */
import {
  canonicalName, header, headerValues, listValues, serialize, type SipRequest, type SipResponse,
} from './sip/message.js';
import type { ClientTxn, ServerTxn } from './transactions.js';
import { newBranch, newTag, stackTime } from './builders.js';
import type { Proto, Target } from './transport.js';

export interface ProxyHost {
  recordRoute(proto: Proto): string;
  via(proto: Proto, branch: string): string;
  send(to: Target, text: string): void;
  resolve(uri: string, fallback: Proto): Promise<Target | undefined>;
  isSelf(t: Target): boolean;
  startProxyTxn(req: SipRequest, text: string, to: Target, branch: string, handler: ProxyResponseHandler): ClientTxn;
  cancel(tx: ClientTxn, headers: { name: string; value: string }[]): void;
  /** A dialog-forming response passed through a Record-Routing session: later requests of it may be loose-routed. */
  dialogFormed(stx: ServerTxn, res: SipResponse, from: Target): void;
}

export interface ProxyResponseHandler {
  onResponse(res: SipResponse, from: Target, retransmission: boolean): void;
  /** The branch got no final response (408) or could not be sent (503). */
  onFailure(status: number): void;
}

export interface ProxyReporter { report(rest: string): void }

export class ProxySession implements ProxyResponseHandler {
  private idx = 0;
  private current?: ClientTxn;
  private best?: SipResponse;
  private canceled = false;
  private finished = false;

  constructor(
    private readonly host: ProxyHost,
    readonly stx: ServerTxn,
    private readonly dests: string[],
    private readonly opts: { recordRoute: boolean; rewriteUri: boolean; extraHeaders: { name: string; value: string }[] },
    private readonly reporter?: ProxyReporter,
  ) {}

  start(): void { void this.tryNext(); }

  /** CANCEL from upstream: cancel the branch in progress; its 487 flows back up as the final response. */
  cancel(reasonHeaders: { name: string; value: string }[]): void {
    this.canceled = true;
    if (this.current) this.host.cancel(this.current, reasonHeaders);
  }

  private async tryNext(): Promise<void> {
    while (this.idx < this.dests.length && !this.canceled) {
      const dest = this.dests[this.idx++]!;
      const to = await this.host.resolve(dest, this.stx.from.proto);
      if (!to || this.host.isSelf(to)) continue;
      const req = this.forwardedRequest(dest, to.proto);
      const branch = /branch=([^;\s]+)/.exec(headerValues(req, 'via')[0]!)![1]!;
      this.current = this.host.startProxyTxn(req, serialize(req), to, branch, this);
      return;
    }
    this.finish(this.best ?? this.synth(this.canceled ? 487 : 480, this.canceled ? 'Request Terminated' : 'Temporarily Unavailable'));
  }

  private forwardedRequest(dest: string, proto: Proto): SipRequest {
    const orig = this.stx.request;
    const skip = new Set(['max-forwards', ...this.opts.extraHeaders.map((h) => canonicalName(h.name))]);
    const mf = Number(header(orig, 'max-forwards') ?? '70');
    const headers = [
      { name: 'Via', value: this.host.via(proto, newBranch()) },
      ...(this.opts.recordRoute ? [{ name: 'Record-Route', value: this.host.recordRoute(this.stx.from.proto) }] : []),
      ...orig.headers.filter((h) => !skip.has(canonicalName(h.name))),
      { name: 'Max-Forwards', value: String(Number.isFinite(mf) && mf > 0 ? mf - 1 : 69) },
      ...this.opts.extraHeaders,
    ];
    return { kind: 'request', method: orig.method, uri: this.opts.rewriteUri ? (dest.startsWith('sip') ? dest : `sip:${dest}`) : orig.uri, headers, body: orig.body };
  }

  onResponse(res: SipResponse, from: Target, retransmission: boolean): void {
    if (this.finished && !retransmission) return;
    if (res.status === 100) return;
    if (this.opts.recordRoute && this.stx.request.method === 'INVITE' && res.status < 300) this.host.dialogFormed(this.stx, res, from);
    if (retransmission || res.status < 200) { this.upstream(res); return; }
    this.reporter?.report(this.responseReport(res, from));
    const status = res.status;
    const last = this.idx >= this.dests.length;
    if (status < 300 || status >= 600 || last || this.canceled) { this.finish(res); return; }
    if (!this.best || status < this.best.status) this.best = res;
    void this.tryNext();
  }

  onFailure(status: number): void {
    const res = this.synth(status, status === 408 ? 'Request Timeout' : 'Service Unavailable');
    if (!this.best) this.best = res;
    if (this.idx >= this.dests.length || this.canceled) this.finish(this.best);
    else void this.tryNext();
  }

  private responseReport(res: SipResponse, from: Target): string {
    const text = serialize(res);
    return `OK|network|${Buffer.byteLength(text)}|${from.proto}|${from.address}|${from.port}|${stackTime()}|||continue\r\n${text}`;
  }

  private finish(res: SipResponse): void {
    if (this.finished) return;
    this.finished = true;
    this.upstream(res);
    this.reporter?.report('OK|done');
  }

  /** Send a downstream response (or our own) up through the server transaction, minus our Via. */
  private upstream(res: SipResponse): void {
    if (this.stx.finalStatus !== 0) {
      const retransmitted2xx = res.status >= 200 && res.status < 300 && this.stx.finalStatus < 300;
      if (!retransmitted2xx) return;
    }
    const vias = listValues(res, 'via');
    const up: SipResponse = { ...res, headers: res.headers.filter((h) => canonicalName(h.name) !== 'via') };
    up.headers.unshift(...vias.slice(1).map((v) => ({ name: 'Via', value: v })));
    if (vias.length <= 1) up.headers.unshift(...headerValues(this.stx.request, 'via').map((v) => ({ name: 'Via', value: v })));
    const text = serialize(up);
    this.host.send(this.stx.from, text);
    if (this.stx.finalStatus === 0) this.stx.responded(res.status, text);
  }

  private synth(status: number, reason: string): SipResponse {
    const req = this.stx.request;
    const headers = ['via', 'from', 'to', 'call-id', 'cseq'].flatMap((n) => headerValues(req, n).map((value) => ({ name: n === 'call-id' ? 'Call-ID' : n[0]!.toUpperCase() + n.slice(1), value })));
    // our own Via on top, so upstream() strips exactly one
    headers.unshift({ name: 'Via', value: this.host.via(this.stx.from.proto, newBranch()) });
    const to = headers.find((h) => h.name === 'To');
    if (to && !/;\s*tag=/i.test(to.value.slice(to.value.lastIndexOf('>') + 1))) to.value += `;tag=${newTag()}`;
    return { kind: 'response', status, reason, headers, body: '' };
  }
}
