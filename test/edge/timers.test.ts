/**
 * RFC 3261 timers with T1 shrunk to 40 ms (so 64*T1 is 2.56 s: a loaded machine still fires the first retransmissions
 * well before the give-up timers): retransmission (A, E, G, 2xx) and give-up (B, F, H,
 * 2xx without ACK). Black holes and silent peers are real UDP sockets; the app is real drachtio-srf.
 * Assertions count messages, never measure time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { parseDatagram } from '../../src/edge/sip/parser.js';
import { header, tagOf, type SipMessage } from '../../src/edge/sip/message.js';
import { encodeFrame, FrameDecoder } from '../../src/edge/wire/framing.js';
import { SECRET, connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from './support.js';

const TIMERS = { T1: 40, T2: 320, T4: 400 };

/** A UDP peer that records everything it receives and answers only when told to. */
class Peer {
  readonly got: { msg: SipMessage; from: RemoteInfo }[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly sock: UdpSocket) {
    sock.on('message', (b, from) => { this.got.push({ msg: parseDatagram(b), from }); for (const w of this.waiters.splice(0)) w(); });
  }
  static async open(): Promise<Peer> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Peer(s);
  }
  get port(): number { return this.sock.address().port; }
  count(pred: (m: SipMessage) => boolean): number { return this.got.filter((g) => pred(g.msg)).length; }
  async waitFor(pred: (m: SipMessage) => boolean, n = 1): Promise<void> {
    while (this.count(pred) < n) await new Promise<void>((r) => this.waiters.push(r));
  }
  send(text: string, port: number): void { this.sock.send(Buffer.from(text), port, '127.0.0.1'); }
  close(): void { this.sock.close(); }
}

const isReq = (method: string) => (m: SipMessage): boolean => m.kind === 'request' && m.method === method;
const isRes = (status: number) => (m: SipMessage): boolean => m.kind === 'response' && m.status === status;

describe('transaction timers (T1 = 40 ms)', () => {
  let edge: TestEdge;
  let srf: AnySrf;
  const destroyed: string[] = []; // reasons of app dialogs ended by the stack
  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'], timers: TIMERS });
    srf = await connectSrf(edge.controlPort);
    srf.invite(async (req: AnySrf, res: AnySrf) => {
      const d = await srf.createUAS(req, res, { localSdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\n' });
      d.on('destroy', (_r: unknown, reason: string) => destroyed.push(reason));
    });
  });
  afterAll(async () => { disconnectSrf(srf); await edge.close(); });

  it('INVITE client to a black hole: timer A retransmits with backoff, timer B gives the app a 408', async () => {
    const hole = await Peer.open();
    const p = srf.createUAC(`sip:x@127.0.0.1:${hole.port}`, { localSdp: 'v=0\r\n' });
    await expect(p).rejects.toMatchObject({ status: 408 });
    // exact schedules are checked with fake timers in transactions.test.ts; here: it did retransmit, and stopped
    const n = hole.count(isReq('INVITE'));
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(7);
    hole.close();
  });

  it('non-INVITE client: timer E retransmits, timer F gives the app a 408', async () => {
    const hole = await Peer.open();
    const req = await srf.request(`sip:x@127.0.0.1:${hole.port}`, { method: 'OPTIONS' });
    const res = await new Promise<AnySrf>((resolve) => req.on('response', resolve));
    expect(res.status).toBe(408);
    expect(hole.count(isReq('OPTIONS'))).toBeGreaterThanOrEqual(2);
    hole.close();
  });

  it('INVITE server, non-2xx: timer G retransmits the final until the ACK, then it stops', async () => {
    const peer = await Peer.open();
    const invite = (id: string): string => [
      `INVITE sip:none@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}`,
      `From: <sip:a@127.0.0.1>;tag=${id}`, 'To: <sip:none@127.0.0.1>', `Call-ID: ${id}`, 'CSeq: 1 INVITE', 'Max-Forwards: 0', 'Content-Length: 0', '', '',
    ].join('\r\n');
    peer.send(invite('g1'), edge.sipPort); // Max-Forwards 0 → 483, an INVITE server non-2xx final
    await peer.waitFor(isRes(483), 3);
    const final = peer.got.find((g) => isRes(483)(g.msg))!.msg;
    peer.send([`ACK sip:none@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-g1`,
      'From: <sip:a@127.0.0.1>;tag=g1', `To: ${header(final, 'to')}`, 'Call-ID: g1', 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort);
    // a marker request sent after the ACK: its answer comes after the ACK was handled (one socket, in order), so
    // every 483 sent before then has arrived too
    peer.send([`OPTIONS sip:none@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-g1m`,
      'From: <sip:a@127.0.0.1>;tag=g1m', 'To: <sip:none@127.0.0.1>', 'Call-ID: g1m', 'CSeq: 1 OPTIONS', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort);
    await peer.waitFor((m) => m.kind === 'response' && header(m, 'call-id') === 'g1m');
    const afterAck = peer.count(isRes(483));
    // once every server transaction is gone nothing can be retransmitted any more; without the ACK it would have
    // lived until timer H (64*T1) and retransmitted every T2 meanwhile
    await expect.poll(() => edge.stats().serverTransactions, { timeout: 10_000 }).toBe(0);
    expect(peer.count(isRes(483))).toBe(afterAck);
    peer.close();
  });

  it('our CANCEL answered 200 but the INVITE never gets a final response: torn down after 64*T1, as drachtio-server does', async () => {
    const peer = await Peer.open();
    const base = edge.stats();
    let uacReq: AnySrf;
    const p = srf.createUAC(`sip:x@127.0.0.1:${peer.port}`, { localSdp: 'v=0\r\n' }, { cbRequest: (_e: unknown, r: AnySrf) => (uacReq = r) });
    p.catch(() => undefined); // like sofia, the stack never reports this INVITE to the app
    await peer.waitFor(isReq('INVITE'));
    const inv = peer.got.find((g) => isReq('INVITE')(g.msg))!.msg;
    const reply = (status: string, cseq: string) => peer.send([`SIP/2.0 ${status}`, `Via: ${header(inv, 'via')}`, `From: ${header(inv, 'from')}`,
      `To: ${header(inv, 'to')};tag=silent`, `Call-ID: ${header(inv, 'call-id')}`, `CSeq: ${cseq}`, 'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort);
    reply('180 Ringing', header(inv, 'cseq')!);
    await expect.poll(() => edge.stats().dialogs).toBe(base.dialogs + 1);
    uacReq.cancel();
    await peer.waitFor(isReq('CANCEL'));
    reply('200 OK', header(inv, 'cseq')!.replace('INVITE', 'CANCEL'));
    expect(edge.stats().clientTransactions).toBeGreaterThan(base.clientTransactions);
    await expect.poll(() => edge.stats(), { timeout: 5000 }).toEqual(base); // INVITE transaction and early dialog gone
    peer.close();
  });

  it('2xx never ACKed: the edge retransmits it, then BYEs the caller and tells the app (unsolicited BYE)', async () => {
    const peer = await Peer.open();
    const before = destroyed.length;
    peer.send([
      `INVITE sip:app@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-noack;rport`,
      'From: <sip:a@127.0.0.1>;tag=noack', 'To: <sip:app@127.0.0.1>', 'Call-ID: noack', 'CSeq: 1 INVITE',
      `Contact: <sip:a@127.0.0.1:${peer.port}>`, 'Max-Forwards: 70', 'Content-Type: application/sdp', 'Content-Length: 4', '', 'v=0\n',
    ].join('\r\n'), edge.sipPort);
    await peer.waitFor(isReq('BYE'));
    expect(peer.count(isRes(200))).toBeGreaterThanOrEqual(3);
    await expect.poll(() => destroyed.length).toBe(before + 1);
    expect(destroyed[before]).toBe('ACK timeout');
    expect(edge.stats().dialogs).toBe(0);
    peer.close();
  });
});

describe('app goes away', () => {
  let edge: TestEdge;
  beforeAll(async () => { edge = await startTestEdge({ transports: ['udp'], timers: TIMERS }); });
  afterAll(async () => { await edge.close(); });

  it('an INVITE waiting on an app that disconnects is answered 503', async () => {
    const app = connect({ host: '127.0.0.1', port: edge.controlPort });
    const dec = new FrameDecoder();
    const frames: string[] = [];
    app.on('data', (c) => frames.push(...dec.push(c)));
    await new Promise((r) => app.once('connect', r));
    app.write(Buffer.concat([encodeFrame(`a|authenticate|${SECRET}|`), encodeFrame('b|route|invite')]));
    await expect.poll(() => frames.length).toBe(2);
    const peer = await Peer.open();
    peer.send([
      `INVITE sip:x@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-gone`,
      'From: <sip:a@127.0.0.1>;tag=gone', 'To: <sip:x@127.0.0.1>', 'Call-ID: gone', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '',
    ].join('\r\n'), edge.sipPort);
    await expect.poll(() => frames.some((f) => f.split('|')[1] === 'sip')).toBe(true);
    app.destroy();
    await peer.waitFor(isRes(503));
    peer.close();
  });
});

describe('long ringing', () => {
  it('a call ringing longer than 64*T1 still connects (timer B stops at the first provisional)', async () => {
    const [a, b] = await Promise.all([startTestEdge({ timers: TIMERS }), startTestEdge({ timers: TIMERS })]);
    const [caller, callee] = await Promise.all([connectSrf(a.controlPort), connectSrf(b.controlPort)]);
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\n';
    callee.invite((req: AnySrf, res: AnySrf) => {
      res.send(180);
      setTimeout(() => { callee.createUAS(req, res, { localSdp: sdp }).catch(() => undefined); }, 3 * 64 * TIMERS.T1);
    });
    const uac = await caller.createUAC(`sip:late@127.0.0.1:${b.sipPort}`, { localSdp: sdp });
    expect(uac.remote.sdp).toBe(sdp);
    await uac.destroy();
    for (const s of [caller, callee]) disconnectSrf(s);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('reliable provisional responses (RFC 3262, T1 = 20 ms)', () => {
  const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\n';
  let edge: TestEdge;
  let srf: AnySrf;
  let behaviour: (req: AnySrf, res: AnySrf) => void = () => undefined;
  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'], timers: TIMERS });
    srf = await connectSrf(edge.controlPort);
    srf.invite((req: AnySrf, res: AnySrf) => behaviour(req, res));
  });
  afterAll(async () => { disconnectSrf(srf); await edge.close(); });

  const invite = (peer: Peer, id: string, supported: string): string => [
    `INVITE sip:app@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id};rport`,
    `From: <sip:a@127.0.0.1>;tag=${id}`, 'To: <sip:app@127.0.0.1>', `Call-ID: ${id}`, 'CSeq: 1 INVITE',
    `Contact: <sip:a@127.0.0.1:${peer.port}>`, ...(supported ? [`Supported: ${supported}`] : []), 'Max-Forwards: 70',
    'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP,
  ].join('\r\n');
  const inDialog = (peer: Peer, id: string, toHeader: string, cseq: string, extra: string[] = []): string => [
    `${cseq.split(' ')[1]} sip:app@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${id}-${cseq.replace(' ', '')};rport`,
    `From: <sip:a@127.0.0.1>;tag=${id}`, `To: ${toHeader}`, `Call-ID: ${id}`, `CSeq: ${cseq}`, ...extra, 'Content-Length: 0', '', '',
  ].join('\r\n');

  it('the 183 is retransmitted with one RSeq until the PRACK; the 2xx waits for that PRACK because the 183 had SDP', async () => {
    behaviour = (_req, res) => {
      res.send(183, { headers: { Require: '100rel' }, body: SDP });
      res.send(200, { body: SDP }); // answered at once: the edge holds the 200 until the PRACK
    };
    const peer = await Peer.open();
    peer.send(invite(peer, 'rel1', 'timer, 100rel'), edge.sipPort);
    await peer.waitFor(isRes(183), 3);
    const sent = peer.got.filter((g) => isRes(183)(g.msg)).map((g) => g.msg);
    expect(new Set(sent.map((m) => header(m, 'rseq'))).size).toBe(1);
    expect(header(sent[0]!, 'require')).toMatch(/100rel/);
    expect(peer.count(isRes(200))).toBe(0); // no answer before the PRACK
    const rseq = header(sent[0]!, 'rseq')!;
    peer.send(inDialog(peer, 'rel1', header(sent[0]!, 'to')!, '2 PRACK', [`RAck: ${rseq} 1 INVITE`]), edge.sipPort);
    await peer.waitFor((m) => m.kind === 'response' && m.status === 200 && header(m, 'cseq') === '1 INVITE');
    await peer.waitFor((m) => m.kind === 'response' && m.status === 200 && header(m, 'cseq') === '2 PRACK'); // the app answers it
    const n183 = peer.count(isRes(183));
    await new Promise((r) => setTimeout(r, 300)); // several T2 periods: the 183 is not sent again
    expect(peer.count(isRes(183))).toBe(n183);
    const ok = peer.got.find((g) => isRes(200)(g.msg) && header(g.msg, 'cseq') === '1 INVITE')!.msg;
    peer.send(inDialog(peer, 'rel1', header(ok, 'to')!, '1 ACK'), edge.sipPort);
    peer.send(inDialog(peer, 'rel1', header(ok, 'to')!, '3 BYE'), edge.sipPort);
    await peer.waitFor((m) => m.kind === 'response' && header(m, 'cseq') === '3 BYE');
    await expect.poll(() => edge.stats().dialogs).toBe(0);
    peer.close();
  });

  it('a reliable 183 never PRACKed: the INVITE gets 503 "Reliable Response Time-Out" after 64*T1', async () => {
    behaviour = (_req, res) => res.send(183, { headers: { Require: '100rel' } });
    const peer = await Peer.open();
    peer.send(invite(peer, 'rel2', '100rel'), edge.sipPort);
    await peer.waitFor(isRes(503));
    expect(peer.got.find((g) => isRes(503)(g.msg))!.msg).toMatchObject({ reason: 'Reliable Response Time-Out' });
    expect(peer.count(isRes(183))).toBeGreaterThanOrEqual(3);
    await expect.poll(() => edge.stats().dialogs).toBe(0);
    peer.close();
  });

  it('a caller that did not offer 100rel gets no reliable 183: the app is told, as drachtio-server tells it', async () => {
    const refused = new Promise<unknown>((resolve) => {
      behaviour = (_req, res) => res.send(183, { headers: { Require: '100rel' } }, (err: unknown) => {
        resolve(err);
        res.send(486);
      });
    });
    const peer = await Peer.open();
    peer.send(invite(peer, 'rel3', 'timer'), edge.sipPort);
    expect(String(await refused)).toMatch(/Remote endpoint does not support 100rel/);
    await peer.waitFor(isRes(486));
    expect(peer.count(isRes(183))).toBe(0);
    peer.close();
  });

  it('UAC side: a carrier retransmitting its reliable 183 is PRACKed once; the app sees that 183 once', async () => {
    const peer = await Peer.open();
    const provisionals: AnySrf[] = [];
    const call = srf.createUAC(`sip:carrier@127.0.0.1:${peer.port}`, { localSdp: SDP, headers: { Supported: '100rel' } }, {
      cbProvisional: (r: AnySrf) => provisionals.push(r),
    });
    await peer.waitFor(isReq('INVITE'));
    const inv = peer.got.find((g) => isReq('INVITE')(g.msg))!.msg;
    const answer = (status: string, cseq: string, extra: string[], body = ''): void => peer.send([
      `SIP/2.0 ${status}`, `Via: ${header(inv, 'via')}`, `From: ${header(inv, 'from')}`, `To: ${header(inv, 'to')};tag=carrier`,
      `Call-ID: ${header(inv, 'call-id')}`, `CSeq: ${cseq}`, `Contact: <sip:carrier@127.0.0.1:${peer.port}>`, ...extra,
      ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${body.length}`, '', body,
    ].join('\r\n'), edge.sipPort);
    const rel = ['Require: 100rel', 'RSeq: 7'];
    answer('183 Session Progress', header(inv, 'cseq')!, rel, SDP);
    answer('183 Session Progress', header(inv, 'cseq')!, rel, SDP); // retransmission (same RSeq)
    await peer.waitFor(isReq('PRACK'));
    const prack = peer.got.find((g) => isReq('PRACK')(g.msg))!.msg;
    expect(header(prack, 'rack')).toBe(`7 ${header(inv, 'cseq')}`);
    peer.send([`SIP/2.0 200 OK`, `Via: ${header(prack, 'via')}`, `From: ${header(prack, 'from')}`, `To: ${header(prack, 'to')}`,
      `Call-ID: ${header(prack, 'call-id')}`, `CSeq: ${header(prack, 'cseq')}`, 'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort);
    answer('200 OK', header(inv, 'cseq')!, [], SDP);
    const uac = await call;
    expect(provisionals.filter((r) => r.status === 183)).toHaveLength(1);
    expect(peer.count(isReq('PRACK'))).toBe(1);
    const bye = uac.destroy().catch(() => undefined);
    await peer.waitFor(isReq('BYE'));
    const b = peer.got.find((g) => isReq('BYE')(g.msg))!.msg;
    peer.send([`SIP/2.0 200 OK`, `Via: ${header(b, 'via')}`, `From: ${header(b, 'from')}`, `To: ${header(b, 'to')}`,
      `Call-ID: ${header(b, 'call-id')}`, `CSeq: ${header(b, 'cseq')}`, 'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort);
    await bye;
    peer.close();
  });
});

describe('session timers (RFC 4028; T1 = 20 ms, one Session-Expires second = 10 ms)', () => {
  const SDP = 'v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\n';
  const FAST = { ...TIMERS, sessionSecond: 10 }; // Session-Expires 90 → 900 ms
  let edge: TestEdge;
  let srf: AnySrf;
  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'], timers: FAST });
    srf = await connectSrf(edge.controlPort);
  });
  afterAll(async () => { disconnectSrf(srf); await edge.close(); });

  /** Answer a request the peer received (first match of pred) with `status` and extra header lines. */
  const answer = (peer: Peer, m: SipMessage, status: string, extra: string[] = [], body = ''): void => peer.send([
    `SIP/2.0 ${status}`, `Via: ${header(m, 'via')}`, `From: ${header(m, 'from')}`,
    `To: ${header(m, 'to')}${tagOf(header(m, 'to')) ? '' : ';tag=carrier'}`, `Call-ID: ${header(m, 'call-id')}`,
    `CSeq: ${header(m, 'cseq')}`, `Contact: <sip:carrier@127.0.0.1:${peer.port}>`, ...extra,
    ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n'), edge.sipPort);
  const reqs = (peer: Peer, method: string) => peer.got.filter((g) => isReq(method)(g.msg)).map((g) => g.msg);

  /** The app calls the peer, which answers with `se` as its Session-Expires; resolves with the app's dialog. */
  async function call(peer: Peer, se: string): Promise<AnySrf> {
    const p = srf.createUAC(`sip:carrier@127.0.0.1:${peer.port}`, { localSdp: SDP, headers: { 'Session-Expires': '90;refresher=uas', Supported: 'timer' } });
    await peer.waitFor(isReq('INVITE'));
    answer(peer, reqs(peer, 'INVITE')[0]!, '200 OK', [`Session-Expires: ${se}`, 'Require: timer'], SDP.replace('app', 'carrier'));
    return p;
  }

  it('we refresh (its 200 says refresher=uac): re-INVITEs with our last SDP at half the interval, ACKed, the app never involved', async () => {
    const peer = await Peer.open();
    const uac = await call(peer, '90;refresher=uac');
    let modified = 0;
    uac.on('modify', () => modified++);
    await peer.waitFor(isReq('INVITE'), 2);
    const refresh = reqs(peer, 'INVITE')[1]!;
    expect(header(refresh, 'session-expires')).toBe('90;refresher=uac');
    expect(refresh.body).toBe(SDP);
    answer(peer, refresh, '200 OK', ['Session-Expires: 90;refresher=uac'], SDP.replace('app', 'carrier'));
    await peer.waitFor((m) => isReq('ACK')(m) && header(m, 'cseq') === header(refresh, 'cseq')!.replace('INVITE', 'ACK'));
    await peer.waitFor(isReq('INVITE'), 3); // and armed again from that 200
    expect(modified).toBe(0);
    await uac.destroy().catch(() => undefined);
    peer.close();
  });

  it('they refresh (refresher=uas) and stop: BYE with Reason "Session timer expired", the app told by an unsolicited BYE', async () => {
    const peer = await Peer.open();
    const uac = await call(peer, '90;refresher=uas');
    const reason = new Promise<string>((resolve) => uac.on('destroy', (_r: unknown, why: string) => resolve(why)));
    await peer.waitFor(isReq('BYE'));
    expect(header(reqs(peer, 'BYE')[0]!, 'reason')).toBe('SIP;cause=200;text="Session timer expired"');
    expect(await reason).toBe('Session timer expired');
    await expect.poll(() => edge.stats().dialogs).toBe(0);
    peer.close();
  });

  it('their refreshes (re-INVITE, UPDATE) keep the call up; below 90 s they get 422 Min-SE 90 without the app seeing it', async () => {
    const peer = await Peer.open();
    const uac = await call(peer, '90;refresher=uas');
    const seen: string[] = [];
    uac.on('modify', (req: AnySrf, res: AnySrf) => { seen.push(req.method); res.send(200, { body: SDP }); });
    uac.on('update', (req: AnySrf, res: AnySrf) => { seen.push(req.method); res.send(200); });
    const ok = reqs(peer, 'INVITE')[0]!;
    const inDialog = (method: string, cseq: number, se: string, body = ''): void => peer.send([
      `${method} sip:app@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-st-${cseq};rport`,
      `From: ${header(ok, 'to')};tag=carrier`, `To: ${header(ok, 'from')}`, `Call-ID: ${header(ok, 'call-id')}`, `CSeq: ${cseq} ${method}`,
      `Contact: <sip:carrier@127.0.0.1:${peer.port}>`, `Session-Expires: ${se}`,
      ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${body.length}`, '', body,
    ].join('\r\n'), edge.sipPort);
    inDialog('UPDATE', 10, '30;refresher=uac');
    await peer.waitFor(isRes(422));
    expect(header(peer.got.find((g) => isRes(422)(g.msg))!.msg, 'min-se')).toBe('90');
    // refreshes every 100 ms, well inside the 900 ms interval (a stalled machine may delay one by up to 800 ms), for
    // three intervals: no BYE
    for (let i = 0; i < 27; i++) {
      if (i % 2) inDialog('UPDATE', 11 + i, '90;refresher=uac');
      else inDialog('INVITE', 11 + i, '90;refresher=uac', SDP.replace('app', 'carrier'));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(peer.count(isReq('BYE'))).toBe(0);
    await expect.poll(() => seen.filter((m) => m === 'UPDATE').length).toBe(13); // the 422'd one never reached the app
    await peer.waitFor(isReq('BYE')); // then they stop
    peer.close();
  });

  it('the app disconnects: its call gets a BYE, its ringing INVITE a CANCEL, and nothing of it is refreshed any more', async () => {
    const app = await connectSrf(edge.controlPort);
    const up = await Peer.open();
    const ringing = await Peer.open();
    const p = app.createUAC(`sip:carrier@127.0.0.1:${up.port}`, { localSdp: SDP });
    await up.waitFor(isReq('INVITE'));
    answer(up, reqs(up, 'INVITE')[0]!, '200 OK', ['Session-Expires: 90;refresher=uac', 'Require: timer'], SDP);
    await p;
    app.createUAC(`sip:carrier@127.0.0.1:${ringing.port}`, { localSdp: SDP }).catch(() => undefined);
    await ringing.waitFor(isReq('INVITE'));
    answer(ringing, reqs(ringing, 'INVITE')[0]!, '180 Ringing');
    await expect.poll(() => edge.stats().dialogs).toBe(2);
    disconnectSrf(app);
    await up.waitFor(isReq('BYE'));
    expect(header(reqs(up, 'BYE')[0]!, 'reason')).toMatch(/application gone/);
    await ringing.waitFor(isReq('CANCEL'));
    await expect.poll(() => edge.stats().dialogs).toBe(0);
    await new Promise((r) => setTimeout(r, 600)); // past the 450 ms refresh point
    expect(up.count(isReq('INVITE'))).toBe(1); // no refresh of a departed app's dialog
    up.close();
    ringing.close();
  });
});
