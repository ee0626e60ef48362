/**
 * TCP hardening on a real edge with a real srf app: strangers' connections are closed before
 * anything is read, connection counts are bounded in total and per address, silent and slow-loris peers are cut,
 * idle connections are closed, a peer that does not read what we send is cut before it grows our memory, and a
 * busy trunk streaming messages is never mistaken for a slow one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from '../edge/support.js';
import { SourceAllowList } from '../../src/edge/sources.js';
import { registry } from '../../src/observability/metrics.js';
import { rnd, sleep, statusOf } from './support.js';
import { eventually } from '../helpers/poll.js';

async function droppedBy(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('softswitch_sip_dropped_total')!.get();
  return m.values.filter((v) => v.labels['reason'] === reason).reduce((a, v) => a + v.value, 0);
}

/** A client TCP connection that records what it reads and when it is closed. */
class Conn {
  data = '';
  closed = false;
  readonly closedAt: Promise<void>;
  private constructor(readonly s: Socket) {
    s.on('data', (b) => { this.data += b.toString(); });
    s.on('error', () => undefined);
    this.closedAt = new Promise((r) => s.on('close', () => { this.closed = true; r(); }));
  }
  static open(port: number, localAddress = '127.0.0.1'): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress });
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  /** Closed within ms? (a bound, never an exact time) */
  async closedWithin(ms: number): Promise<boolean> {
    await Promise.race([this.closedAt, sleep(ms)]);
    return this.closed;
  }
}

function options(port: number, callId = `${rnd()}@tcp`): string {
  return [`OPTIONS sip:x@127.0.0.1:${port};transport=tcp SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK${rnd()}`,
    'Max-Forwards: 70', `From: <sip:a@127.0.0.1>;tag=${rnd()}`, `To: <sip:x@127.0.0.1:${port}>`, `Call-ID: ${callId}`, 'CSeq: 1 OPTIONS',
    'Content-Length: 0', '', ''].join('\r\n');
}

let edge: TestEdge;
let app: AnySrf;
// the busy-trunk writer sends a message over ~75 ms: READ_MS leaves it ~1.9 s of stalls on a loaded machine
const READ_MS = 2000;
const IDLE_MS = 3000;
beforeAll(async () => {
  const list = new SourceAllowList();
  list.set('trunks', ['127.0.0.1']);
  edge = await startTestEdge({
    transports: ['udp', 'tcp'], sources: list,
    tcp: { maxConnections: 8, maxPerAddress: 4, readMs: READ_MS, idleMs: IDLE_MS, maxPendingBytes: 256 * 1024 },
  });
  app = await connectSrf(edge.controlPort);
  app.options((_req: AnySrf, res: AnySrf) => res.send(200));
});
afterAll(async () => {
  disconnectSrf(app);
  await edge?.close();
});

describe('SIP over TCP at the door', () => {
  it('a stranger\'s connection is closed at once, before anything is read', async () => {
    const before = await droppedBy('unknown_source');
    const c = await Conn.open(edge.sipPort, '127.0.0.2');
    c.s.write(options(edge.sipPort));
    expect(await c.closedWithin(3000)).toBe(true);
    expect(c.data).toBe('');
    expect(await droppedBy('unknown_source')).toBe(before + 1);
  });

  it('at most maxPerAddress connections from one address; the rest are closed at once and counted', async () => {
    const before = await droppedBy('tcp_limit');
    const conns = await Promise.all(Array.from({ length: 6 }, () => Conn.open(edge.sipPort)));
    await eventually('two connections closed', () => conns.filter((c) => c.closed).length >= 2);
    const open = conns.filter((c) => !c.closed);
    expect(open).toHaveLength(4);
    expect(await droppedBy('tcp_limit')).toBe(before + 2);
    // the ones kept work
    open[0]!.s.write(options(edge.sipPort, 'kept@tcp'));
    await eventually('the kept connection answered', () => open[0]!.data.length > 0);
    expect(statusOf(open[0]!.data)).toBe(200);
    for (const c of conns) c.s.destroy();
    await sleep(100);
  });

  it('a silent connection and a slow-loris one are cut by the read deadline; memory holds at most one message', async () => {
    const silent = await Conn.open(edge.sipPort);
    const loris = await Conn.open(edge.sipPort);
    const text = options(edge.sipPort).repeat(20);
    let i = 0;
    const drip = setInterval(() => { if (!loris.closed && i < text.length) loris.s.write(text[i++]!); }, 20);
    try {
      expect(await silent.closedWithin(10_000)).toBe(true);
      expect(await loris.closedWithin(10_000)).toBe(true);
      expect(i).toBeLessThan(text.length); // cut long before it finished its message
      expect(loris.data).toBe('');
    } finally {
      clearInterval(drip);
    }
  });

  it('a busy trunk streaming messages in pieces that straddle message ends is never cut; an idle one is', async () => {
    const c = await Conn.open(edge.sipPort);
    const stream = Array.from({ length: 60 }, (_, k) => options(edge.sipPort, `stream-${k}@tcp`)).join('');
    // chunks of 97 bytes every 25 ms (~4 s in all): there is always an incomplete message buffered, for longer than READ_MS
    for (let off = 0; off < stream.length; off += 97) {
      c.s.write(stream.slice(off, off + 97));
      await sleep(25);
    }
    await eventually('60 answers', () => (c.data.match(/^SIP\/2\.0 200/gm) ?? []).length >= 60 || c.closed);
    expect(c.closed).toBe(false);
    expect(c.data.match(/^SIP\/2\.0 200/gm)).toHaveLength(60);
    expect(await c.closedWithin(IDLE_MS + 5000)).toBe(true); // then silence: the idle timeout closes it
  });

  it('a peer that does not read what we send is cut before our unsent bytes pass maxPendingBytes', async () => {
    const before = await droppedBy('tcp_limit');
    const sockets: Socket[] = [];
    const sink: Server = createServer((s) => { sockets.push(s); s.pause(); }); // accepts, never reads
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const port = (sink.address() as { port: number }).port;
    const body = 'x'.repeat(40_000);
    const statuses: number[] = [];
    try {
      for (let k = 0; k < 600 && !statuses.includes(503); k++) {
        const st = await new Promise<number>((resolve) => {
          app.request(`sip:sink@127.0.0.1:${port};transport=tcp`, { method: 'MESSAGE', headers: { 'Content-Type': 'text/plain' }, body }, (err: unknown, req: AnySrf) => {
            if (err) return resolve(-1);
            req.on('response', (r: AnySrf) => resolve(r.status));
            setTimeout(() => resolve(0), 50); // no answer expected: the sink never reads
          });
        });
        if (st !== 0) statuses.push(st);
      }
      expect(statuses).toContain(503);
      expect(await droppedBy('tcp_limit')).toBeGreaterThan(before);
    } finally {
      for (const s of sockets) s.destroy();
      sink.close();
    }
  }, 60_000);
});
