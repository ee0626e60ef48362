/**
 * The edge at byte level: drachtio framing and control verbs over a raw TCP socket, and SIP error paths
 * (400, 481, 483, 503, retransmission absorption) over a raw UDP socket. No srf here, so we see exact bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import net, { connect, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { FrameDecoder, FrameError, encodeFrame } from '../../src/edge/wire/framing.js';
import { parseDatagram } from '../../src/edge/sip/parser.js';
import { header, type SipResponse } from '../../src/edge/sip/message.js';
import { SECRET, connectSrf, disconnectSrf, startTestEdge, testLogger, type AnySrf, type TestEdge } from './support.js';
import { startEdge } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import { freePort } from '../helpers/ports.js';

describe('frame codec', () => {
  it('counts bytes, not characters, and handles split and merged frames', () => {
    const payload = 'id1|sip|x\r\nFrom: "张三" <sip:a@b>';
    const frame = encodeFrame(payload);
    expect(frame.toString('latin1').startsWith(`${Buffer.byteLength(payload)}#`)).toBe(true);
    const d = new FrameDecoder();
    const got: string[] = [];
    const merged = Buffer.concat([frame, encodeFrame('b|ping'), frame]);
    for (let i = 0; i < merged.length; i += 3) got.push(...d.push(merged.subarray(i, i + 3)));
    expect(got).toEqual([payload, 'b|ping', payload]);
  });

  it.each(['abc#x', '0#', '99999999#x', '12'.repeat(5)])('rejects a corrupt length prefix %j', (bad) => {
    expect(() => new FrameDecoder().push(Buffer.from(bad))).toThrow(FrameError);
  });
});

/** A raw control connection that collects decoded frames. */
class RawApp {
  readonly frames: string[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  private readonly dec = new FrameDecoder();
  constructor(readonly sock: Socket) {
    sock.on('data', (c) => { this.frames.push(...this.dec.push(c)); this.wake(); });
    sock.on('close', () => { this.closed = true; this.wake(); });
  }
  static async open(port: number): Promise<RawApp> {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise((r) => s.once('connect', r));
    return new RawApp(s);
  }
  private wake(): void { for (const w of this.waiters.splice(0)) w(); }
  async next(pred: (f: string) => boolean = () => true): Promise<string> {
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async closedPromise(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }
}

describe('control port (raw)', () => {
  let edge: TestEdge;
  beforeAll(async () => { edge = await startTestEdge(); });
  afterAll(async () => { await edge.close(); });

  it('authenticate: OK with hostports and version; route, remove_route and ping answered', async () => {
    const app = await RawApp.open(edge.controlPort);
    // frames written one byte at a time, then several in a single write
    const auth = encodeFrame(`m1|authenticate|${SECRET}|tagA`);
    for (const b of auth) app.sock.write(Buffer.from([b]));
    const r = (await app.next()).split('|');
    expect(r[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.slice(1)).toEqual(['response', 'm1', 'OK', `udp/127.0.0.1:${edge.sipPort},tcp/127.0.0.1:${edge.sipPort}`, 'v0.9.3', `udp/127.0.0.1:${edge.sipPort},tcp/127.0.0.1:${edge.sipPort}`]);
    app.sock.write(Buffer.concat([encodeFrame('m2|route|invite'), encodeFrame('m3|ping'), encodeFrame('m4|remove_route|invite')]));
    expect((await app.next((f) => f.includes('|m2|'))).split('|').slice(3)).toEqual(['OK']);
    expect((await app.next((f) => f.includes('|m3|'))).split('|').slice(3)).toEqual(['OK', 'pong']);
    expect((await app.next((f) => f.includes('|m4|'))).split('|').slice(3)).toEqual(['OK']);
    app.sock.destroy();
  });

  it('wrong secret: NO, then the connection is closed', async () => {
    const app = await RawApp.open(edge.controlPort);
    app.sock.write(encodeFrame('m1|authenticate|wrong|'));
    expect((await app.next()).split('|').slice(2)).toEqual(['m1', 'NO', 'incorrect secret']);
    await app.closedPromise();
  });

  it('anything before authenticate (answered NOK), or a corrupt frame (no answer), closes the connection', async () => {
    const a = await RawApp.open(edge.controlPort);
    a.sock.write(encodeFrame('m1|route|invite'));
    await a.closedPromise();
    expect(a.closed).toBe(true);
    expect(a.frames).toEqual([expect.stringMatching(/\|response\|m1\|NOK\|authenticate first$/)]);
    const b = await RawApp.open(edge.controlPort);
    b.sock.write(Buffer.from('12x#hello'));
    await b.closedPromise();
    expect([b.closed, b.frames]).toEqual([true, []]);
  });

  it('new request from the app: stack fills in Via/From tag/Call-ID/CSeq/Max-Forwards, drops immutable headers, rewrites @localhost, echoes exactly what it sent; a response with another CSeq number is dropped', async () => {
    const peer = createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    const onWire = new Promise<Buffer>((resolve) => peer.once('message', resolve));
    const app = await RawApp.open(edge.controlPort);
    app.sock.write(encodeFrame(`m1|authenticate|${SECRET}|`));
    await app.next();
    const uri = `sip:bob@127.0.0.1:${peer.address().port}`;
    app.sock.write(encodeFrame(`m2|sip||\r\nOPTIONS ${uri} SIP/2.0\r\nFrom: <sip:alice@localhost>\r\nVia: SIP/2.0/UDP 6.6.6.6;branch=z9hG4bKevil\r\nRoute: <sip:evil.example;lr>\r\nX-Keep: yes\r\nContent-Length: 0\r\n\r\n`));
    const answer = await app.next((f) => f.includes('|m2|'));
    const [leader, ...rest] = answer.split('\r\n');
    const t = leader!.split('|');
    expect(t.slice(3, 9)).toEqual(['OK', 'application', String(Buffer.byteLength(rest.join('\r\n'))), 'udp', '127.0.0.1', String(peer.address().port)]);
    expect(t[10]).toMatch(/^[0-9a-f-]{36}$/); // server-generated transaction id
    expect(t[11]).toBe('Msg sent:');
    const sent = (await onWire).toString();
    expect(rest.join('\r\n')).toBe(sent); // the echo is the message exactly as it went out
    const m = parseDatagram(Buffer.from(sent));
    expect(header(m, 'via')).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${edge.sipPort};rport;branch=z9hG4bK`));
    expect(header(m, 'route')).toBeUndefined();
    expect(header(m, 'from')).toMatch(new RegExp(`^<sip:alice@127\\.0\\.0\\.1:${edge.sipPort}>;tag=`));
    expect(header(m, 'to')).toBe(`<${uri}>`);
    expect(header(m, 'call-id')).toBeTruthy();
    // a random first CSeq below 2^31, as sofia picks it (peers must echo it, never assume 1)
    expect(header(m, 'cseq')).toMatch(/^[1-9]\d* OPTIONS$/);
    expect(Number(header(m, 'cseq')!.split(' ')[0])).toBeLessThan(2 ** 31);
    expect([header(m, 'max-forwards'), header(m, 'x-keep')]).toEqual(['70', 'yes']);

    // a response whose CSeq number is not the request's matches no transaction (sofia drops it): only the echo passes
    const seq = Number(header(m, 'cseq')!.split(' ')[0]);
    const reply = (n: number) => Buffer.from([`SIP/2.0 200 OK`, `Via: ${header(m, 'via')}`, `From: ${header(m, 'from')}`, `To: ${header(m, 'to')};tag=p1`,
      `Call-ID: ${header(m, 'call-id')}`, `CSeq: ${n} OPTIONS`, 'Content-Length: 0', '', ''].join('\r\n'));
    peer.send(reply(seq + 1), edge.sipPort, '127.0.0.1');
    peer.send(reply(seq), edge.sipPort, '127.0.0.1');
    const delivered = await app.next((f) => f.split('|')[1] === 'sip' && f.includes('SIP/2.0 200 OK'));
    expect(delivered).toContain(`CSeq: ${seq} OPTIONS`);
    peer.close();
    app.sock.destroy();
  });

  it('sip frames with a bad message or unknown transaction get NOK, the connection stays up', async () => {
    const app = await RawApp.open(edge.controlPort);
    app.sock.write(encodeFrame(`m1|authenticate|${SECRET}|`));
    await app.next();
    app.sock.write(encodeFrame('m2|sip|no-such-txn|\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect((await app.next((f) => f.includes('|m2|'))).split('|').slice(3)).toEqual(['NOK', 'Response not sent due to unknown transaction']);
    app.sock.write(encodeFrame('m3|sip||no-such-dialog\r\nBYE sip:placeholder SIP/2.0\r\n\r\n'));
    expect(await app.next((f) => f.includes('|m3|'))).toMatch(/NOK\|Server error: unable to find dialog/);
    app.sock.write(encodeFrame('m4|sip||\r\nINVITE nonsense SIP/2.0\r\n\r\n'));
    expect(await app.next((f) => f.includes('|m4|'))).toMatch(/NOK\|invalid request-uri/);
    app.sock.write(encodeFrame(`m5|sip||\r\nOPTIONS sip:x@127.0.0.1:${edge.sipPort} SIP/2.0\r\n\r\n`));
    expect(await app.next((f) => f.includes('|m5|'))).toMatch(/NOK\|can not send request to myself/);
    app.sock.write(encodeFrame('m6|sip||\r\nMESSAGE sip:x@127.0.0.2:5 SIP/2.0\r\nContent-Length: 2\r\n\r\nhi'));
    expect(await app.next((f) => f.includes('|m6|'))).toMatch(/NOK\|missing content-type/);
    app.sock.write(encodeFrame('m7|ping'));
    expect(await app.next((f) => f.includes('|m7|'))).toMatch(/OK\|pong/);
    app.sock.destroy();
  });
});

describe('SIP error paths (raw UDP)', () => {
  let edge: TestEdge;
  let udp: UdpSocket;
  const inbox: SipResponse[] = [];
  let wake: (() => void) | undefined;

  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'] });
    udp = createSocket('udp4');
    udp.on('message', (b) => { const m = parseDatagram(b); if (m.kind === 'response') inbox.push(m); wake?.(); });
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => { udp.close(); await edge.close(); });

  const port = (): number => udp.address().port;
  const send = (text: string): void => { udp.send(Buffer.from(text), edge.sipPort, '127.0.0.1'); };
  async function response(pred: (r: SipResponse) => boolean): Promise<SipResponse> {
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0]!;
      await new Promise<void>((r) => { wake = r; });
    }
  }
  const req = (method: string, id: string, extra = '', cseqMethod = method): string => [
    `${method} sip:2000@127.0.0.1:${edge.sipPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port()};branch=z9hG4bK-${id};rport`,
    `From: <sip:a@127.0.0.1>;tag=f-${id}`, `To: <sip:2000@127.0.0.1>${extra}`, `Call-ID: ${id}`, `CSeq: 1 ${cseqMethod}`,
    'Max-Forwards: 70', 'Content-Length: 0', '', '',
  ].join('\r\n');

  // that the ACK also stops the 503's retransmissions (timer G) is in timers.test.ts, where T1 is short
  it('INVITE with no app routed: 100 Trying, then 503; a retransmission gets the same 503; the ACK gets no answer', async () => {
    send(req('INVITE', 'c1'));
    const trying = await response((r) => header(r, 'call-id') === 'c1' && r.status === 100);
    expect(header(trying, 'via')).toContain(`rport=${port()}`);
    const first = await response((r) => header(r, 'call-id') === 'c1' && r.status === 503);
    send(req('INVITE', 'c1'));
    const again = await response((r) => header(r, 'call-id') === 'c1' && r.status === 503);
    expect(header(again, 'to')).toBe(header(first, 'to'));
    send(req('ACK', 'c1', `;tag=${/tag=([^;]+)/.exec(header(first, 'to')!)![1]}`, 'ACK'));
    send(req('OPTIONS', 'c1-marker')); // answered after the ACK was handled
    expect((await response((r) => header(r, 'call-id') === 'c1-marker')).status).toBe(503);
    expect(inbox.filter((r) => header(r, 'call-id') === 'c1' && r.status !== 503)).toEqual([]);
  });

  it('remove_route: the app gets no more new requests of that method (503 again)', async () => {
    const app = await RawApp.open(edge.controlPort);
    app.sock.write(Buffer.concat([encodeFrame(`a|authenticate|${SECRET}|`), encodeFrame('b|route|options')]));
    await app.next((f) => f.includes('|b|'));
    send(req('OPTIONS', 'rr1'));
    const frame = (await app.next((f) => f.split('|')[1] === 'sip')).split('|');
    app.sock.write(encodeFrame(`c|sip|${frame[8]}|\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n`));
    expect((await response((r) => header(r, 'call-id') === 'rr1')).status).toBe(200);
    app.sock.write(encodeFrame('d|remove_route|options'));
    await app.next((f) => f.includes('|d|'));
    send(req('OPTIONS', 'rr2'));
    expect((await response((r) => header(r, 'call-id') === 'rr2')).status).toBe(503);
    app.sock.destroy();
  });

  it('BYE and CANCEL outside any dialog/transaction: 481', async () => {
    send(req('BYE', 'c2', ';tag=nope'));
    expect((await response((r) => header(r, 'call-id') === 'c2')).status).toBe(481);
    send(req('CANCEL', 'c3'));
    expect((await response((r) => header(r, 'call-id') === 'c3')).status).toBe(481);
  });

  it('without rport, UDP responses go to the port in the Via, not the source port (RFC 3261 §18.2.2)', async () => {
    const listener = createSocket('udp4');
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', () => r()));
    const got = new Promise<SipResponse>((resolve) => listener.once('message', (b) => resolve(parseDatagram(b) as SipResponse)));
    send(req('OPTIONS', 'c7').replace(`127.0.0.1:${port()};branch=z9hG4bK-c7;rport`, `127.0.0.1:${listener.address().port};branch=z9hG4bK-c7`));
    expect((await got).status).toBe(503);
    listener.close();
  });

  it('in-dialog request with a CSeq lower than the last one: 500 (RFC 3261 §12.2.2)', async () => {
    // a dialog to talk in: an INVITE answered by a raw app
    const app = await RawApp.open(edge.controlPort);
    app.sock.write(Buffer.concat([encodeFrame(`a|authenticate|${SECRET}|`), encodeFrame('b|route|invite')]));
    await app.next((f) => f.includes('|b|'));
    send(req('INVITE', 'c8').replace('CSeq: 1 INVITE', 'CSeq: 10 INVITE'));
    const inv = (await app.next((f) => f.split('|')[1] === 'sip')).split('|');
    app.sock.write(encodeFrame(`r|sip|${inv[8]}|\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n`));
    const ok = await response((r) => header(r, 'call-id') === 'c8' && r.status === 200);
    const tag = `;tag=${/tag=([^;]+)/.exec(header(ok, 'to')!)![1]}`;
    send(req('ACK', 'c8', tag, 'ACK').replace('CSeq: 1 ACK', 'CSeq: 10 ACK'));
    send(req('INFO', 'c8a', tag).replace('Call-ID: c8a', 'Call-ID: c8').replace('CSeq: 1 INFO', 'CSeq: 5 INFO'));
    expect((await response((r) => header(r, 'call-id') === 'c8' && header(r, 'cseq') === '5 INFO')).status).toBe(500);
    app.sock.destroy();
  });

  it('Max-Forwards 0: 483', async () => {
    send(req('OPTIONS', 'c4').replace('Max-Forwards: 70', 'Max-Forwards: 0'));
    expect((await response((r) => header(r, 'call-id') === 'c4')).status).toBe(483);
  });

  it('malformed requests: 400 when answerable, silently dropped otherwise; the edge keeps serving', async () => {
    send(req('OPTIONS', 'c5').replace('Content-Length: 0', 'Content-Length: 99'));
    const bad = await response((r) => header(r, 'call-id') === 'c5');
    expect(bad.status).toBe(400);
    send('\x00\x01garbage\r\n\r\n');
    send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKstray\r\nContent-Length: 0\r\n\r\n');
    send(req('OPTIONS', 'c6'));
    expect((await response((r) => header(r, 'call-id') === 'c6')).status).toBe(503);
  });
});

describe('startEdge on a busy port', () => {
  it('rejects with an error naming the address, and leaves nothing bound', async () => {
    const busy = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port, '127.0.0.1', () => r()));
    // UDP binds first, then TCP fails: the UDP socket must be released again
    await expect(startEdge({ sipHost: '127.0.0.1', sipPort: port, transports: ['udp', 'tcp'], controlHost: '127.0.0.1', controlPort: 0, secret: SECRET, logger: testLogger, sources: ANY_SOURCE }))
      .rejects.toThrow(`edge: cannot listen for SIP on 127.0.0.1:${port} (udp,tcp)`);
    const u = createSocket('udp4');
    await new Promise<void>((resolve, reject) => { u.once('error', reject); u.bind(port, '127.0.0.1', () => resolve()); });
    u.close();
    await expect(startEdge({ sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort: port, secret: SECRET, logger: testLogger, sources: ANY_SOURCE }))
      .rejects.toThrow(`edge: cannot listen for drachtio apps on 127.0.0.1:${port}`);
    busy.close();
  });
});

describe('overload guard', () => {
  it('beyond maxServerTransactions, new requests get a stateless 503 with Retry-After', async () => {
    const edge = await startTestEdge({ transports: ['udp'], maxServerTransactions: 3 });
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const got: SipResponse[] = [];
    udp.on('message', (b) => got.push(parseDatagram(b) as SipResponse));
    for (let i = 0; i < 5; i++) {
      udp.send(Buffer.from([`OPTIONS sip:x@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${udp.address().port};branch=z9hG4bK-o${i};rport`,
        `From: <sip:a@127.0.0.1>;tag=o${i}`, 'To: <sip:x@127.0.0.1>', `Call-ID: o${i}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n')), edge.sipPort, '127.0.0.1');
    }
    await expect.poll(() => got.length).toBe(5);
    const overloaded = got.filter((r) => r.reason === 'Overloaded');
    expect(overloaded).toHaveLength(2);
    expect(header(overloaded[0]!, 'retry-after')).toBe('5');
    expect(edge.stats().serverTransactions).toBe(3);
    udp.close();
    await edge.close();
  });
});

describe('fuzzing a live edge', () => {
  it('thousands of mutated INVITE/ACK/CANCEL/BYE datagrams: no internal error logged, the edge keeps answering', async () => {
    const records: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => { records.push(JSON.parse(line) as { level: number; msg: string }); } });
    const edge = await startTestEdge({ transports: ['udp'], logger });
    // an app behind it, so fuzzed requests also reach dispatch, CANCEL matching and app responses
    const srf = await connectSrf(edge.controlPort);
    srf.invite((req: AnySrf, res: AnySrf) => { if (req.get('Call-ID').endsWith('0')) res.send(180); else res.send(486); });
    srf.options((_req: AnySrf, res: AnySrf) => res.send(200));
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const port = udp.address().port;
    const answers: SipResponse[] = [];
    udp.on('message', (b) => { try { const m = parseDatagram(b); if (m.kind === 'response') answers.push(m); } catch { /* edge output is checked elsewhere */ } });
    const base = (method: string, i: number): string => [
      `${method} sip:2000@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-f${i % 50};rport`,
      `From: <sip:a@127.0.0.1>;tag=f${i % 7}`, `To: <sip:2000@127.0.0.1>${i % 3 === 0 ? `;tag=t${i % 5}` : ''}`, `Call-ID: fz${i % 40}`,
      `CSeq: ${i % 9} ${method}`, 'Max-Forwards: 70', `Route: <sip:127.0.0.1:${edge.sipPort};lr>`.repeat(i % 4 === 0 ? 1 : 0),
      'Content-Type: application/sdp', 'Content-Length: 4', '', 'v=0\n',
    ].filter((l, idx) => idx !== 7 || l !== '').join('\r\n');
    const rnd = fc.sample(fc.tuple(fc.constantFrom('INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'PRACK'), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })), { numRuns: 3000, seed: 42 });
    rnd.forEach(([method, muts], i) => {
      const bytes = Buffer.from(base(method, i));
      for (const [at, b] of muts) bytes[at % bytes.length] = b;
      udp.send(bytes, edge.sipPort, '127.0.0.1');
    });
    // a valid request still gets its answer afterwards
    udp.send(Buffer.from(base('OPTIONS', 99_998).replace('Call-ID: fz38', 'Call-ID: after-fuzz').replace('branch=z9hG4bK-f48', 'branch=z9hG4bK-after')), edge.sipPort, '127.0.0.1');
    await expect.poll(() => answers.some((a) => header(a, 'call-id') === 'after-fuzz'), { timeout: 15_000 }).toBe(true);
    expect(answers.find((a) => header(a, 'call-id') === 'after-fuzz')!.status).toBe(200);
    expect(records.filter((r) => r.level >= 50)).toEqual([]);
    udp.close();
    disconnectSrf(srf);
    await edge.close();
  }, 30_000);
});
