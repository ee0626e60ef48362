/**
 * Pieces of the attack suite: a raw UDP peer that records every datagram it gets (the "carrier" that must receive
 * nothing, and the attacker that sends hand-made SIP from any loopback address), and a builder of SIP requests.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export class UdpPeer {
  readonly received: { text: string; from: string }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: Socket, readonly address: string, readonly port: number) {
    sock.on('message', (b, r) => {
      this.received.push({ text: b.toString('utf8'), from: `${r.address}:${r.port}` });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Binds `address` (any 127.x.y.z works on Linux loopback) on `port` (0 = any free port). */
  static async open(address = '127.0.0.1', port = 0): Promise<UdpPeer> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, address, () => resolve()); });
    return new UdpPeer(s, address, s.address().port);
  }

  send(text: string | Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(typeof text === 'string' ? Buffer.from(text) : text, port, host, (e) => (e ? reject(e) : resolve())));
  }

  /** The first received datagram matching `pred` within `ms`, or undefined. */
  async next(pred: (text: string) => boolean, ms = 3000): Promise<string | undefined> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.received.find((m) => pred(m.text));
      if (hit) return hit.text;
      const left = end - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

export const rnd = (): string => randomBytes(6).toString('hex');

export interface ReqOpts {
  method?: string;
  uri: string;
  /** the sender, for Via/Contact */
  from: { address: string; port: number };
  callId?: string;
  fromTag?: string;
  toTag?: string;
  caller?: string;
  cseq?: number;
  route?: string[];
  maxForwards?: number | null;
  extra?: string[];
  body?: string;
  branch?: string;
}

/** A syntactically valid SIP request over UDP, with whatever routing the attack needs. */
export function sipRequest(o: ReqOpts): string {
  const method = o.method ?? 'INVITE';
  const hp = `${o.from.address}:${o.from.port}`;
  const body = o.body ?? (method === 'INVITE' ? 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n' : '');
  const lines = [
    `${method} ${o.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${hp};branch=${o.branch ?? `z9hG4bK${rnd()}`};rport`,
    ...(o.maxForwards === null ? [] : [`Max-Forwards: ${o.maxForwards ?? 70}`]),
    ...(o.route ?? []).map((r) => `Route: ${r}`),
    `From: <sip:${o.caller ?? '+8657100000000'}@${o.from.address}>;tag=${o.fromTag ?? rnd()}`,
    `To: <${o.uri}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? `${rnd()}@attacker`}`,
    `CSeq: ${o.cseq ?? 1} ${method === 'ACK' || method === 'CANCEL' ? method : method}`,
    `Contact: <sip:x@${hp}>`,
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

/** Status line of a SIP response text, e.g. 403. */
export const statusOf = (text: string): number => Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A response to a received request text: its Via/From/Call-ID/CSeq, To with `toTag`, plus `extra` headers. */
export function responseFor(req: string, status: number, toTag: string, extra: string[] = []): string {
  const head = req.slice(0, req.indexOf('\r\n\r\n')).split('\r\n').slice(1);
  const pick = (re: RegExp): string[] => head.filter((l) => re.test(l));
  const to = pick(/^(To|t)\s*:/i)[0]!;
  return [
    `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Response'}`,
    ...pick(/^(Via|v)\s*:/i), ...pick(/^(From|f)\s*:/i),
    /;\s*tag=/i.test(to) ? to : `${to};tag=${toTag}`,
    ...pick(/^(Call-ID|i)\s*:/i), ...pick(/^CSeq\s*:/i), ...extra, 'Content-Length: 0', '', '',
  ].join('\r\n');
}
