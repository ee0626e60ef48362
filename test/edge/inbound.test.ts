/**
 * The inbound part of the edge on its own: the shared state, in-dialog and inbound built by hand over a real UDP
 * transport, without the core, an app or srf. Checks the invariants its header states: a stranger leaves no state,
 * a retransmission is absorbed by its transaction, overload is shed before any state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EdgeState } from '../../src/edge/state.js';
import { InDialog } from '../../src/edge/in-dialog.js';
import { Inbound, type DoorOptions } from '../../src/edge/inbound.js';
import { Outbound } from '../../src/edge/outbound.js';
import { Transports } from '../../src/edge/transport.js';
import { WireServer } from '../../src/edge/wire/server.js';
import { SourceAllowList } from '../../src/edge/sources.js';
import { DEFAULT_TIMERS } from '../../src/edge/timers.js';
import { parseDatagram } from '../../src/edge/sip/parser.js';
import { header, type SipResponse } from '../../src/edge/sip/message.js';
import { testLogger } from './support.js';

interface Rig { state: EdgeState; inbound: Inbound; transports: Transports; client: UdpSocket; inbox: SipResponse[]; next(): Promise<SipResponse> }

const rigs: Rig[] = [];

/** State, in-dialog and inbound over a UDP transport on a free port, and a UDP client that collects responses. */
async function rig(door: Partial<DoorOptions>): Promise<Rig> {
  let inbound: Inbound | undefined;
  const transports = new Transports('127.0.0.1', testLogger, {
    onMessage: (m) => inbound!.onMessage(m),
    onParseError: (err, from) => inbound!.onParseError(err, from),
    admit: (from) => inbound!.admit(from),
    onRejected: (msg, from) => inbound!.onRejected(msg, from),
    admitConnection: (from) => inbound!.admitConnection(from),
    onTcpLimit: (from, why) => inbound!.onTcpLimit(from, why),
  });
  const state = new EdgeState('127.0.0.1', transports, DEFAULT_TIMERS, testLogger);
  const inDialog = new InDialog(state);
  inbound = new Inbound(state, inDialog, { sources: new SourceAllowList(), ...door });
  // a control port nobody connected to: new requests find no app
  state.wire = new WireServer('unused', testLogger, new Outbound(state, inDialog));
  await transports.listen(0, ['udp']);
  const client = createSocket('udp4');
  const inbox: SipResponse[] = [];
  let wake: (() => void) | undefined;
  client.on('message', (b) => { const m = parseDatagram(b); if (m.kind === 'response') inbox.push(m); wake?.(); });
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  const next = async (): Promise<SipResponse> => {
    while (inbox.length === 0) await new Promise<void>((r) => { wake = r; });
    return inbox.shift()!;
  };
  const r = { state, inbound, transports, client, inbox, next };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    for (const t of r.state.serverById.values()) t.terminate();
    r.client.close();
    await r.transports.close();
  }
});

function options(r: Rig, branch: string): string {
  const port = r.client.address().port;
  return [
    'OPTIONS sip:edge@127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch};rport`, 'Max-Forwards: 70',
    'From: <sip:a@127.0.0.1>;tag=f1', 'To: <sip:edge@127.0.0.1>', `Call-ID: inbound-${branch}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
  ].join('\r\n');
}

const send = (r: Rig, text: string): void => { r.client.send(Buffer.from(text), r.transports.port, '127.0.0.1'); };

describe('inbound alone', () => {
  it('a stranger is dropped before parsing and leaves no state; in reject mode it gets one stateless 403', async () => {
    const drop = await rig({ sources: new SourceAllowList() });
    expect(drop.inbound.admit({ proto: 'udp', address: '127.0.0.1', port: 5060 })).toBe('drop');
    expect(drop.inbound.admitConnection({ proto: 'tcp', address: '127.0.0.1', port: 5060 })).toBe(false);

    const reject = await rig({ unknownSource: 'reject' });
    send(reject, options(reject, 'stranger'));
    const res = await reject.next();
    expect(res.status).toBe(403);
    expect(reject.state.serverTxns.size).toBe(0);
    expect(reject.state.dialogs.size).toBe(0);
    expect(reject.state.peers.size).toBe(0);
  });

  it('a retransmitted request is answered again by its one transaction', async () => {
    const allowed = new SourceAllowList();
    allowed.set('trunks', ['127.0.0.1']);
    const r = await rig({ sources: allowed });
    send(r, options(r, 'again'));
    const first = await r.next();
    expect([first.status, first.reason]).toEqual([503, 'No providers available']);
    send(r, options(r, 'again'));
    const second = await r.next();
    expect(second).toEqual(first);
    expect(r.state.serverTxns.size).toBe(1);
  });

  it('beyond maxServerTransactions a new request gets a stateless 503 with Retry-After and makes no transaction', async () => {
    const allowed = new SourceAllowList();
    allowed.set('trunks', ['127.0.0.1']);
    const r = await rig({ sources: allowed, maxServerTransactions: 1 });
    send(r, options(r, 'one'));
    expect((await r.next()).reason).toBe('No providers available');
    send(r, options(r, 'two'));
    const shed = await r.next();
    expect([shed.status, shed.reason, header(shed, 'retry-after')]).toEqual([503, 'Overloaded', '5']);
    expect(header(shed, 'call-id')).toBe('inbound-two');
    expect(r.state.serverTxns.size).toBe(1);
  });
});
