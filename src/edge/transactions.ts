/**
 * RFC 3261 §17 transaction state machines. They only decide *when* to (re)send and when to give up;
 * building messages and delivering to apps is the job of the edge's parts (inbound, outbound, in-dialog), passed in as callbacks.
 */
import { randomUUID } from 'node:crypto';
import { cseqOf, header, listValues, parseVia, tagOf, type SipRequest } from './sip/message.js';
import type { Target } from './transport.js';
import type { SipTimers } from './timers.js';
import type { ReliableUas } from './reliable.js';

type Timer = ReturnType<typeof setTimeout>;

/**
 * The key a request finds its server transaction by (RFC 3261 §17.2.3): the RFC 3261 branch with the sent-by and
 * the method, or for an older client Call-ID, From tag and CSeq. ACK and CANCEL look up their INVITE's with 'INVITE'.
 */
export function serverKey(req: SipRequest, method: string): string {
  const via = parseVia(listValues(req, 'via')[0] ?? '');
  const branch = via?.params.branch;
  if (branch?.startsWith('z9hG4bK')) return `${branch}|${via!.host}:${via!.port ?? ''}|${method}`;
  return `${header(req, 'call-id')}|${tagOf(header(req, 'from'))}|${cseqOf(req)?.seq}|${method}`;
}

/** An incoming request's transaction (INVITE server: timers G/H/I; non-INVITE server: timer J). */
export class ServerTxn {
  readonly id = randomUUID();
  state: 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated' = 'proceeding';
  lastResponse?: string;
  finalStatus = 0;
  /** The To-tag this transaction answers with (one per transaction, so 18x and 200 agree). */
  localTag?: string;
  dialogId = '';
  canceled = false;
  appOwner?: unknown;
  /** RFC 3262 state once the app sent a reliable provisional on this INVITE. */
  reliable?: ReliableUas;
  /** Set when an app proxies this request instead of answering it. */
  proxy?: { cancel(reasonHeaders: { name: string; value: string }[]): void };
  private timers: Timer[] = [];

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly from: Target,
    private readonly t: SipTimers,
    private readonly resend: (text: string) => void,
    private readonly onTerminated: (tx: ServerTxn) => void,
  ) {
    // A non-INVITE client gives up after 64*T1 (timer F); an unanswered transaction is forgotten then, so an app
    // that never answers cannot make state pile up. INVITEs may legitimately wait longer for the app.
    if (request.method !== 'INVITE') this.after(64 * t.T1, () => { if (this.finalStatus === 0) this.terminate(); });
  }

  get isInvite(): boolean { return this.request.method === 'INVITE'; }

  /** A retransmitted request: resend the last response (RFC 3261 §17.2.1/§17.2.2). */
  onRetransmit(): void {
    if (this.lastResponse !== undefined && this.state !== 'confirmed') this.resend(this.lastResponse);
  }

  /** Record and time a response that the core has just sent. */
  responded(status: number, text: string): void {
    this.lastResponse = text;
    if (status < 200) return;
    this.finalStatus = status;
    this.reliable?.stop(); // a final response ends the retransmission of reliable provisionals
    this.clear();
    const reliable = this.from.proto !== 'udp';
    if (this.isInvite && status >= 300) {
      this.state = 'completed';
      if (!reliable) this.retransmitEvery(this.t.T1, text, this.t.T2); // timer G
      this.after(64 * this.t.T1, () => this.terminate()); // timer H (ACK never came)
    } else if (this.isInvite) {
      // RFC 6026 "Accepted": absorb INVITE retransmissions; the 2xx itself is retransmitted by the dialog layer.
      this.state = 'accepted';
      this.after(64 * this.t.T1, () => this.terminate()); // timer L
    } else {
      this.state = 'completed';
      this.after(reliable ? 0 : 64 * this.t.T1, () => this.terminate()); // timer J
    }
  }

  /** ACK for a non-2xx final: stop retransmitting, linger for timer I to absorb ACK retransmissions. */
  onAck(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.clear();
    this.after(this.from.proto === 'udp' ? this.t.T4 : 0, () => this.terminate());
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clear();
    this.onTerminated(this);
  }

  private retransmitEvery(interval: number, text: string, cap: number): void {
    this.after(interval, () => {
      this.resend(text);
      this.retransmitEvery(Math.min(interval * 2, cap), text, cap);
    });
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref?.();
    this.timers.push(t);
  }

  private clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

/** A request the edge sends for an app (INVITE client: timers A/B/D; non-INVITE client: E/F/K). */
export class ClientTxn {
  readonly id: string;
  state: 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated' = 'calling';
  /** Set when the app asked to CANCEL before any provisional arrived (RFC 3261 §9.1: wait for one). */
  cancelPending?: SipRequest;
  canceled = false;
  finalStatus = 0;
  private timers: Timer[] = [];

  constructor(
    readonly branch: string,
    readonly request: SipRequest,
    readonly text: string,
    readonly to: Target,
    private readonly t: SipTimers,
    private readonly send: (text: string) => void,
    /** Timer B/F fired (408), or the transport could not deliver the request (503). */
    private readonly onFailure: (tx: ClientTxn, status: number) => void,
    private readonly onTerminated: (tx: ClientTxn) => void,
    id?: string,
  ) {
    this.id = id ?? randomUUID();
  }

  get isInvite(): boolean { return this.request.method === 'INVITE'; }

  start(): void {
    this.send(this.text);
    if (this.to.proto === 'udp') this.retransmit(this.t.T1); // timer A / E
    // timer B only covers Calling: once a provisional arrived an INVITE may ring as long as the callee likes
    // (RFC 3261 §17.1.1.2); timer F covers the whole non-INVITE transaction
    this.after(64 * this.t.T1, () => { if (!this.isInvite || this.state === 'calling') this.fail(408); });
  }

  /** Give up on a request that got no final response; the app is told `status`. */
  fail(status: number): void {
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    this.state = 'terminated';
    this.clear();
    this.onFailure(this, status);
    this.onTerminated(this);
  }

  /** Returns false for a retransmitted response the app must not see again. */
  onResponse(status: number): boolean {
    if (this.state === 'terminated') return false;
    if (status < 200) {
      if (this.state === 'calling') {
        this.state = 'proceeding';
        if (this.isInvite) this.clearRetransmit(); // timer A stops on a provisional
      }
      return this.state === 'proceeding';
    }
    if (this.state === 'completed' || this.state === 'accepted') return false;
    this.finalStatus = status;
    this.clear();
    const reliable = this.to.proto !== 'udp';
    if (this.isInvite && status < 300) {
      this.state = 'accepted'; // 2xx retransmissions are re-ACKed by the dialog layer
      this.after(64 * this.t.T1, () => this.terminate());
    } else {
      this.state = 'completed';
      const linger = reliable ? 0 : this.isInvite ? 64 * this.t.T1 : this.t.T4; // timer D (≥32 s) / K
      this.after(linger, () => this.terminate());
    }
    return true;
  }

  /**
   * RFC 3261 §9.1: once our CANCEL is out, an INVITE with no final response 64*T1 later is given up and destroyed
   * (drachtio-server: notifyCancelTimeoutReachedIIP). onExpired runs first, while the transaction is still known.
   */
  expireAfterCancel(onExpired: (tx: ClientTxn) => void): void {
    this.after(64 * this.t.T1, () => {
      if (this.state !== 'calling' && this.state !== 'proceeding') return;
      onExpired(this);
      this.terminate();
    });
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clear();
    this.onTerminated(this);
  }

  private retransmitTimer?: Timer;

  private retransmit(interval: number): void {
    this.retransmitTimer = setTimeout(() => {
      if (this.state !== 'calling' && !(this.state === 'proceeding' && !this.isInvite)) return;
      this.send(this.text);
      // non-INVITE caps at T2, and after a provisional keeps going every T2 (timer E)
      const next = this.isInvite ? interval * 2 : this.state === 'proceeding' ? this.t.T2 : Math.min(interval * 2, this.t.T2);
      this.retransmit(next);
    }, interval);
    this.retransmitTimer.unref?.();
  }

  private clearRetransmit(): void {
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(fn, ms);
    t.unref?.();
    this.timers.push(t);
  }

  private clear(): void {
    this.clearRetransmit();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}
