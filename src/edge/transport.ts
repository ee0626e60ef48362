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
}

const key = (t: Target): string => `${t.address}:${t.port}`;

export class Transports {
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Map<string, Socket>();
  private readonly pending = new Map<string, Promise<Socket>>();
  port = 0;

  constructor(private readonly host: string, private readonly log: Logger, private readonly h: TransportHandlers) {}

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
      const tcp = createServer((s) => this.adopt(s));
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(port, this.host, () => { tcp.off('error', reject); resolve(); }); });
      this.tcp = tcp;
      port = (tcp.address() as { port: number }).port;
    }
    this.port = port;
  }

  has(proto: Proto): boolean { return proto === 'udp' ? this.udp !== undefined : this.tcp !== undefined; }

  private onDatagram(buf: Buffer, from: Target): void {
    if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString('latin1'))) return; // keepalive
    try {
      this.h.onMessage({ msg: parseDatagram(buf), from, bytes: buf.length });
    } catch (err) {
      if (err instanceof SipParseError) this.h.onParseError(err, from);
      else this.log.error({ err }, 'error handling udp message');
    }
  }

  private adopt(s: Socket): void {
    const from: Target = { proto: 'tcp', address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    const k = key(from);
    this.conns.set(k, s);
    s.setNoDelay(true);
    const framer = new StreamFramer();
    s.on('data', (chunk) => {
      for (const m of framer.push(chunk)) {
        if (m instanceof SipParseError) {
          this.h.onParseError(m, from);
          s.destroy(); // framing is lost on a stream; the peer must reconnect
          return;
        }
        try { this.h.onMessage({ msg: m, from, bytes: 0 }); } catch (err) { this.log.error({ err }, 'error handling tcp message'); }
      }
    });
    s.on('error', (err) => this.log.debug({ err, peer: k }, 'tcp connection error'));
    s.on('close', () => { if (this.conns.get(k) === s) this.conns.delete(k); });
  }

  private async tcpConn(to: Target): Promise<Socket> {
    const k = key(to);
    const existing = this.conns.get(k);
    if (existing && !existing.destroyed) return existing;
    let p = this.pending.get(k);
    if (!p) {
      p = new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: to.address, port: to.port });
        s.once('connect', () => { s.off('error', reject); this.adopt(s); this.conns.set(k, s); resolve(s); });
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
