/**
 * SIP transports: one UDP socket and one TCP listener on the same host:port. Inbound messages are parsed here;
 * outbound messages go to a Target (for TCP: the connection the request came in on, or a new one we open).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { parseDatagram, SipParseError, StreamFramer } from './sip/parser.js';
import type { SipMessage } from './sip/message.js';

export type Proto = 'udp' | 'tcp';

export interface Target { proto: Proto; address: string; port: number }

export interface Inbound { msg: SipMessage; from: Target; bytes: number }

export interface TransportHandlers {
  onMessage(m: Inbound): void;
  /** An unparseable message; `partial` is set when it was a request we can still answer with 400. */
  onParseError(err: SipParseError, from: Target): void;
  /** Asked for every datagram and TCP message before it is parsed: 'drop' = forget it (the handler counts it). */
  admit(from: Target): 'accept' | 'drop' | 'reject';
  /** A message admitted as 'reject' (SIP_UNKNOWN_SOURCE=reject), parsed only to be refused. */
  onRejected(msg: SipMessage, from: Target): void;
  /** Asked when a TCP connection comes in, before anything is read from it. */
  admitConnection(from: Target): boolean;
  /** A TCP connection refused or closed by a limit (counted by the handler). */
  onTcpLimit(from: Target, why: string): void;
}

/** TCP hardening: a slow, silent or greedy peer never grows memory. */
export interface TcpLimits {
  /** Inbound connections at once, in total and from one address; beyond, new ones are closed at once. */
  maxConnections: number;
  maxPerAddress: number;
  /** A connection with no traffic either way for this long is closed. */
  idleMs: number;
  /** A message must be complete this long after its first byte (and an inbound connection must send one this
   * long after opening): slow-loris peers are cut. */
  readMs: number;
  /** Bytes we wrote that the peer has not taken; beyond, the connection is closed. */
  maxPendingBytes: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = { maxConnections: 2000, maxPerAddress: 100, idleMs: 300_000, readMs: 10_000, maxPendingBytes: 1 << 20 };

const key = (t: Target): string => `${t.address}:${t.port}`;

export class Transports {
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Map<string, Socket>();
  private readonly pending = new Map<string, Promise<Socket>>();
  /** Inbound TCP connections per remote address. */
  private readonly inbound = new Map<string, number>();
  private inboundTotal = 0;
  port = 0;

  constructor(
    private readonly host: string,
    private readonly log: Logger,
    private readonly h: TransportHandlers,
    private readonly limits: TcpLimits = DEFAULT_TCP_LIMITS,
  ) {}

  /** Binds every transport on one port; on failure nothing stays bound and the error names the address. */
  async listen(port: number, protos: Proto[]): Promise<void> {
    try {
      await this.bind(port, protos);
    } catch (err) {
      await this.close();
      throw new Error(`edge: cannot listen for SIP on ${this.host}:${port} (${protos.join(',')}): ${(err as Error).message}`);
    }
  }

  private async bind(port: number, protos: Proto[]): Promise<void> {
    if (protos.includes('udp')) {
      const udp = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 } as Parameters<typeof createSocket>[0]);
      udp.on('message', (buf, rinfo) => this.onDatagram(buf, { proto: 'udp', address: rinfo.address, port: rinfo.port }));
      udp.on('error', (err) => this.log.error({ err }, 'udp socket error'));
      await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(port, this.host, () => { udp.off('error', reject); resolve(); }); });
      this.udp = udp;
      port = udp.address().port;
    }
    if (protos.includes('tcp')) {
      const tcp = createServer((s) => this.accept(s));
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(port, this.host, () => { tcp.off('error', reject); resolve(); }); });
      this.tcp = tcp;
      port = (tcp.address() as { port: number }).port;
    }
    this.port = port;
  }

  has(proto: Proto): boolean { return proto === 'udp' ? this.udp !== undefined : this.tcp !== undefined; }

  private onDatagram(buf: Buffer, from: Target): void {
    if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString('latin1'))) return; // keepalive
    const admission = this.h.admit(from);
    if (admission === 'drop') return;
    try {
      const msg = parseDatagram(buf);
      if (admission === 'reject') this.h.onRejected(msg, from);
      else this.h.onMessage({ msg, from, bytes: buf.length });
    } catch (err) {
      if (err instanceof SipParseError) { if (admission === 'accept') this.h.onParseError(err, from); }
      else this.log.error({ err }, 'error handling udp message');
    }
  }

  /** An inbound connection: strangers and connections over the limits are closed before anything is read. */
  private accept(s: Socket): void {
    const from: Target = { proto: 'tcp', address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    const n = this.inbound.get(from.address) ?? 0;
    if (!this.h.admitConnection(from)) { s.destroy(); return; }
    if (this.inboundTotal >= this.limits.maxConnections || n >= this.limits.maxPerAddress) {
      this.h.onTcpLimit(from, this.inboundTotal >= this.limits.maxConnections ? 'too many connections' : 'too many connections from this address');
      s.destroy();
      return;
    }
    this.inbound.set(from.address, n + 1);
    this.inboundTotal++;
    s.once('close', () => {
      this.inboundTotal--;
      const left = (this.inbound.get(from.address) ?? 1) - 1;
      if (left <= 0) this.inbound.delete(from.address); else this.inbound.set(from.address, left);
    });
    this.adopt(s, true);
  }

  private adopt(s: Socket, inbound: boolean): void {
    const from: Target = { proto: 'tcp', address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    const k = key(from);
    this.conns.set(k, s);
    s.setNoDelay(true);
    const cut = (why: string): void => {
      if (s.destroyed) return;
      this.h.onTcpLimit(from, why);
      s.destroy();
    };
    s.setTimeout(this.limits.idleMs, () => cut('idle'));
    // read deadline: armed while a message is incomplete (and, inbound, until the first message arrives)
    let readTimer: NodeJS.Timeout | undefined;
    const arm = (): void => { readTimer ??= setTimeout(() => cut('message not completed in time'), this.limits.readMs); };
    const disarm = (): void => { clearTimeout(readTimer); readTimer = undefined; };
    if (inbound) arm();
    const framer = new StreamFramer();
    s.on('data', (chunk) => {
      const msgs = framer.push(chunk);
      // a completed message is progress: the deadline restarts with the next incomplete one
      if (msgs.length > 0) disarm();
      if (framer.buffered > 0) arm();
      for (const m of msgs) {
        if (m instanceof SipParseError) {
          this.h.onParseError(m, from);
          s.destroy(); // framing is lost on a stream; the peer must reconnect
          return;
        }
        const admission = this.h.admit(from);
        if (admission === 'drop') continue;
        try {
          if (admission === 'reject') this.h.onRejected(m, from);
          else this.h.onMessage({ msg: m, from, bytes: 0 });
        } catch (err) { this.log.error({ err }, 'error handling tcp message'); }
      }
    });
    s.on('error', (err) => this.log.debug({ err, peer: k }, 'tcp connection error'));
    s.on('close', () => {
      disarm();
      if (this.conns.get(k) === s) this.conns.delete(k);
    });
  }

  private async tcpConn(to: Target): Promise<Socket> {
    const k = key(to);
    const existing = this.conns.get(k);
    if (existing && !existing.destroyed) return existing;
    let p = this.pending.get(k);
    if (!p) {
      p = new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: to.address, port: to.port });
        s.once('connect', () => { s.off('error', reject); this.adopt(s, false); this.conns.set(k, s); resolve(s); });
        s.once('error', reject);
      }).finally(() => this.pending.delete(k));
      this.pending.set(k, p);
    }
    return p;
  }

  /** Sends raw SIP text. Rejects when the TCP connection cannot be made (callers turn that into 503/408). */
  async send(to: Target, text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    if (to.proto === 'udp') {
      if (!this.udp) throw new Error('udp transport not enabled');
      this.udp.send(buf, to.port, to.address);
      return;
    }
    if (!this.tcp) throw new Error('tcp transport not enabled');
    const s = await this.tcpConn(to);
    if (s.writableLength + buf.length > this.limits.maxPendingBytes) {
      this.h.onTcpLimit(to, 'peer does not read what we send');
      s.destroy();
      throw new Error(`tcp connection to ${key(to)} closed: more than ${this.limits.maxPendingBytes} bytes unsent`);
    }
    s.write(buf);
  }

  async close(): Promise<void> {
    for (const s of this.conns.values()) s.destroy();
    this.conns.clear();
    const { udp, tcp } = this;
    this.udp = undefined;
    this.tcp = undefined;
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }
}
