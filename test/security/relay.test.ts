/**
 * Relay probes: the full app (e2e harness: edge + srf + SIP app + charging, real PostgreSQL and
 * Redis) with a carrier gateway configured. Every probe tries to make the edge forward a request to the carrier
 * without the app placing a metered call; the "carrier" is a raw UDP socket that records every datagram, so
 * anything at all that reaches it fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../e2e/harness.js';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from '../edge/support.js';
import { responseFor, rnd, sipRequest, sleep, statusOf, UdpPeer, type ReqOpts } from './support.js';

let h: Harness;
let carrier: UdpPeer;
let trunk: UdpPeer; // the call-center trunk's address (an ingress trunk)
let stranger: UdpPeer; // an address that is no trunk and no gateway
let us: string;
let carrierUri: string;

beforeAll(async () => {
  h = await startHarness();
  carrier = await UdpPeer.open('127.0.0.1');
  trunk = await UdpPeer.open('127.0.0.1');
  stranger = await UdpPeer.open('127.0.0.2');
  await h.gateways([{ name: 'carrier', port: carrier.port }]);
  us = `127.0.0.1:${h.target.sipPort}`;
  carrierUri = `sip:13800138000@127.0.0.1:${carrier.port}`;
});
afterAll(async () => {
  await Promise.all([carrier?.close(), trunk?.close(), stranger?.close()]);
  await h?.close();
});

/** Send a probe from `peer` and return the final response it got (0 = none within `ms`). */
async function probe(peer: UdpPeer, o: Omit<ReqOpts, 'from'>, ms = 2000): Promise<number> {
  const callId = o.callId ?? `${rnd()}@probe`;
  await peer.send(sipRequest({ ...o, callId, from: { address: peer.address, port: peer.port } }), h.target.sipPort);
  const res = await peer.next((t) => t.includes(callId) && statusOf(t) >= 200, ms);
  return res ? statusOf(res) : 0;
}

const viaUs = (): string[] => [`<sip:${us};lr>`];

describe('the edge is never a relay to the carrier', () => {
  it('out-of-dialog INVITE from a non-trunk address, Route naming us, request URI at the carrier', async () => {
    await probe(stranger, { uri: carrierUri, route: viaUs() }, 1500);
    await sleep(300);
    expect(carrier.received.map((m) => m.text.split('\r\n')[0])).toEqual([]);
  });

  it.each([
    ['INVITE with a Route to us (the app refuses the unknown caller)', { uri: 'CARRIER', route: ['US'] }, 403],
    ['INVITE with a strict (no ;lr) Route to us', { uri: 'CARRIER', route: ['<sip:US>'] }, 403],
    ['INVITE with Route us, then the carrier', { uri: 'CARRIER', route: ['US', '<sip:CARRIER_HP;lr>'] }, 403],
    ['INVITE whose first Route is the carrier', { uri: 'sip:13800138000@US', route: ['<sip:CARRIER_HP;lr>'] }, 403],
    ['INVITE with Max-Forwards: 0 and a Route to us', { uri: 'CARRIER', route: ['US'], maxForwards: 0 }, 483],
    ['INVITE with Max-Forwards: 1 and a Route to us', { uri: 'CARRIER', route: ['US'], maxForwards: 1 }, 403],
    ['in-dialog INVITE (To-tag) for no dialog of ours, Route to us', { uri: 'CARRIER', route: ['US'], toTag: 'x1' }, 481],
    ['in-dialog BYE for no dialog of ours, Route to us', { method: 'BYE', uri: 'CARRIER', route: ['US'], toTag: 'x2' }, 481],
    ['in-dialog INFO for no dialog of ours, Route to us', { method: 'INFO', uri: 'CARRIER', route: ['US'], toTag: 'x3' }, 481],
    ['in-dialog MESSAGE for no dialog of ours, Route to us', { method: 'MESSAGE', uri: 'CARRIER', route: ['US'], toTag: 'x4' }, 481],
    ['out-of-dialog MESSAGE with a Route to us (no app routes it)', { method: 'MESSAGE', uri: 'CARRIER', route: ['US'] }, 503],
    ['REGISTER with a Route to us', { method: 'REGISTER', uri: 'CARRIER', route: ['US'] }, 503],
    ['OPTIONS with a Route to us (the app answers it itself)', { method: 'OPTIONS', uri: 'CARRIER', route: ['US'] }, 200],
    ['CANCEL with a Route to us for no INVITE', { method: 'CANCEL', uri: 'CARRIER', route: ['US'] }, 481],
  ] as const)('from the trunk: %s → its status, nothing to the carrier', async (_what, o, status) => {
    const fill = (s: string): string => s.replace('CARRIER_HP', `127.0.0.1:${carrier.port}`).replace('CARRIER', carrierUri).replace(/^US$/, `<sip:${us};lr>`).replace('US', us);
    const got = await probe(trunk, { ...o, uri: fill(o.uri), route: o.route.map(fill) } as Omit<ReqOpts, 'from'>);
    expect(got).toBe(status);
    await sleep(200);
    expect(carrier.received.map((m) => m.text.split('\r\n')[0])).toEqual([]);
  });

  it('an ACK with a Route to us and the carrier as request URI goes nowhere', async () => {
    await trunk.send(sipRequest({ method: 'ACK', uri: carrierUri, route: viaUs(), toTag: 'x5', from: { address: trunk.address, port: trunk.port } }), h.target.sipPort);
    await stranger.send(sipRequest({ method: 'ACK', uri: carrierUri, route: viaUs(), from: { address: stranger.address, port: stranger.port } }), h.target.sipPort);
    await sleep(500);
    expect(carrier.received).toEqual([]);
  });

  it('a request URI that is an absolute URI elsewhere (no Route) reaches the app, which refuses it', async () => {
    expect(await probe(trunk, { uri: carrierUri })).toBe(403);
    expect(await probe(trunk, { uri: `sip:13800138000@198.51.100.7:5060` })).toBe(403);
    await sleep(200);
    expect(carrier.received).toEqual([]);
  });

  it('no call state is left behind by the probes', async () => {
    await sleep(300);
    expect(h.edge.stats().dialogs).toBe(0);
    expect(h.edge.stats().clientTransactions).toBe(0);
  });
});

describe('a dialog the edge Record-Routed for an app proxyRequest', () => {
  let edge: TestEdge;
  let app: AnySrf;
  let caller: UdpPeer, callee: UdpPeer, third: UdpPeer, outsider: UdpPeer;
  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'] });
    app = await connectSrf(edge.controlPort);
    [caller, callee, third, outsider] = await Promise.all([UdpPeer.open('127.0.0.1'), UdpPeer.open('127.0.0.1'), UdpPeer.open('127.0.0.4'), UdpPeer.open('127.0.0.3')]);
    app.invite((req: AnySrf) => { void app.proxyRequest(req, [`sip:bob@127.0.0.1:${callee.port}`], { recordRoute: true }).catch(() => undefined); });
  });
  afterAll(async () => {
    disconnectSrf(app);
    await Promise.all([caller?.close(), callee?.close(), third?.close(), outsider?.close()]);
    await edge?.close();
  });

  it('is loose-routed between its two parties only: not to a third address, not from an outsider', async () => {
    const callId = `${rnd()}@proxied`;
    const fromTag = rnd();
    const me = { address: caller.address, port: caller.port };
    const edgeUri = `sip:bob@127.0.0.1:${edge.sipPort}`;
    await caller.send(sipRequest({ uri: edgeUri, from: me, callId, fromTag, caller: 'alice' }), edge.sipPort);
    const invite = await callee.next((t) => t.startsWith('INVITE ') && t.includes(callId));
    expect(invite).toContain(`Record-Route: <sip:127.0.0.1:${edge.sipPort};lr>`);
    await callee.send(responseFor(invite!, 200, 'bobtag', [`Contact: <sip:bob@127.0.0.1:${callee.port}>`]), edge.sipPort);
    expect(statusOf((await caller.next((t) => t.startsWith('SIP/2.0 200') && t.includes(callId)))!)).toBe(200);
    const route = [`<sip:127.0.0.1:${edge.sipPort};lr>`];
    const inDialog = (method: string, uri: string, cseq: number, peer = me): string =>
      sipRequest({ method, uri, from: peer, callId, fromTag, toTag: 'bobtag', caller: 'alice', cseq, route });

    await caller.send(inDialog('ACK', `sip:bob@127.0.0.1:${callee.port}`, 1), edge.sipPort);
    expect(await callee.next((t) => t.startsWith('ACK ') && t.includes(callId))).toBeDefined();

    // the request URI names a third address: refused, nothing sent there
    await caller.send(inDialog('INFO', `sip:x@127.0.0.4:${third.port}`, 2), edge.sipPort);
    expect(statusOf((await caller.next((t) => t.includes('CSeq: 2 INFO') && statusOf(t) >= 200))!)).toBe(403);
    // an outsider who knows the Call-ID and both tags: handled as a request for an unknown dialog
    const o = { address: outsider.address, port: outsider.port };
    await outsider.send(inDialog('BYE', `sip:bob@127.0.0.1:${callee.port}`, 3, o), edge.sipPort);
    expect(statusOf((await outsider.next((t) => t.includes('CSeq: 3 BYE') && statusOf(t) >= 200))!)).toBe(481);
    await sleep(300);
    expect(third.received).toEqual([]);
    expect(callee.received.filter((m) => /^(INFO|BYE) /.test(m.text))).toEqual([]);

    // the caller's BYE reaches the callee
    await caller.send(inDialog('BYE', `sip:bob@127.0.0.1:${callee.port}`, 4), edge.sipPort);
    const bye = await callee.next((t) => t.startsWith('BYE ') && t.includes(callId));
    expect(bye).toBeDefined();
    await callee.send(responseFor(bye!, 200, 'bobtag'), edge.sipPort);
    expect(statusOf((await caller.next((t) => t.includes('CSeq: 4 BYE') && statusOf(t) >= 200))!)).toBe(200);
    // the dialog is over: the same BYE again (new transaction) is no longer forwarded
    await caller.send(inDialog('BYE', `sip:bob@127.0.0.1:${callee.port}`, 5), edge.sipPort);
    expect(statusOf((await caller.next((t) => t.includes('CSeq: 5 BYE') && statusOf(t) >= 200))!)).toBe(481);
  });
});
