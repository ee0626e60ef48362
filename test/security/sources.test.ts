/**
 * Unknown sources cost nothing: the edge drops SIP from any address that is no enabled trunk,
 * gateway or peer of ours before it parses it or keeps anything; reject mode answers one stateless 403; responses
 * count only from where their request went; one source cannot take more than its rate; the allow-list follows
 * PostgreSQL at once (LISTEN) and survives a PostgreSQL outage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startHarness, type Harness } from '../e2e/harness.js';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf } from '../edge/support.js';
import { SourceAllowList } from '../../src/edge/sources.js';
import { startSourceRefresh } from '../../src/edge/sources-pg.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { registry } from '../../src/observability/metrics.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-pg.js';
import { eventually } from '../helpers/poll.js';
import { responseFor, rnd, sipRequest, sleep, statusOf, UdpPeer } from './support.js';

async function droppedBy(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('softswitch_sip_dropped_total')!.get();
  return m.values.filter((v) => v.labels['reason'] === reason).reduce((a, v) => a + v.value, 0);
}

describe('drop mode (default) with the allow-list from PostgreSQL', () => {
  let h: Harness;
  let stranger: UdpPeer;
  beforeAll(async () => {
    h = await startHarness();
    stranger = await UdpPeer.open('127.0.0.2');
  });
  afterAll(async () => {
    await stranger?.close();
    await h?.close();
  });

  const from = (p: UdpPeer) => ({ address: p.address, port: p.port });

  it('a stranger gets no answer at all and leaves no state; each message is counted as unknown_source', async () => {
    const before = await droppedBy('unknown_source');
    const uri = `sip:13800138000@127.0.0.1:${h.edge.sipPort}`;
    const probes = [
      sipRequest({ uri, from: from(stranger) }),
      sipRequest({ method: 'OPTIONS', uri, from: from(stranger) }),
      sipRequest({ method: 'REGISTER', uri, from: from(stranger) }),
      sipRequest({ method: 'BYE', uri, from: from(stranger), toTag: 'abc' }),
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n',
      'garbage \x00\x01\x02',
    ];
    for (const p of probes) await stranger.send(p, h.edge.sipPort);
    expect(h.edge.stats().serverTransactions).toBe(0);
    await sleep(1500); // an INVITE's 100 Trying or 403 retransmissions would have come by now
    expect(stranger.received).toEqual([]);
    expect(await droppedBy('unknown_source')).toBe(before + probes.length);
    expect(h.edge.stats()).toEqual({ dialogs: 0, serverTransactions: 0, clientTransactions: 0 });
  });

  it('a trunk added in PostgreSQL is let in at once (NOTIFY), and shut out again when disabled', async () => {
    const trunk = await UdpPeer.open('127.0.0.5');
    try {
      const uri = `sip:13800138000@127.0.0.1:${h.edge.sipPort}`;
      const ask = async (): Promise<number> => {
        const callId = `${rnd()}@t5`;
        await trunk.send(sipRequest({ uri, from: from(trunk), callId }), h.edge.sipPort);
        const r = await trunk.next((t) => t.includes(callId) && statusOf(t) >= 200, 1000);
        return r ? statusOf(r) : 0;
      };
      expect(await ask()).toBe(0);
      await h.db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-five', '127.0.0.5')`);
      // now the app decides: the caller is no tenant's number → 403 from the app
      await eventually('the new trunk reaches the app', async () => (await ask()) === 403);
      await h.db.pool.query(`update ingress_trunks set enabled = false where name = 'ccc-five'`);
      await eventually('the disabled trunk is dropped again', async () => (await ask()) === 0);
    } finally {
      await trunk.close();
    }
  });
});

describe('reject mode (SIP_UNKNOWN_SOURCE=reject)', () => {
  it('a stranger\'s request gets exactly one stateless 403 (no 100 Trying, never retransmitted); its ACK gets nothing', async () => {
    const list = new SourceAllowList();
    list.set('trunks', ['127.0.0.1']);
    const edge = await startTestEdge({ transports: ['udp'], sources: list, unknownSource: 'reject' });
    const stranger = await UdpPeer.open('127.0.0.2');
    try {
      const uri = `sip:x@127.0.0.1:${edge.sipPort}`;
      await stranger.send(sipRequest({ uri, from: { address: stranger.address, port: stranger.port } }), edge.sipPort);
      await sleep(2000); // T1 = 500 ms: a retransmitted 403 would have come twice by now
      expect(stranger.received.map((m) => statusOf(m.text))).toEqual([403]);
      expect(edge.stats().serverTransactions).toBe(0);
      await stranger.send(sipRequest({ method: 'ACK', uri, from: { address: stranger.address, port: stranger.port } }), edge.sipPort);
      await sleep(300);
      expect(stranger.received).toHaveLength(1);
    } finally {
      await stranger.close();
      await edge.close();
    }
  });
});

describe('the edge with an app (every source allowed, to test the other door checks)', () => {
  let edge: Awaited<ReturnType<typeof startTestEdge>>;
  let app: AnySrf;
  beforeAll(async () => {
    edge = await startTestEdge({ transports: ['udp'], sourceRateLimit: 20, maxDialogs: 2 });
    app = await connectSrf(edge.controlPort);
    app.options((_req: AnySrf, res: AnySrf) => res.send(200));
    app.invite((req: AnySrf, res: AnySrf) => { void app.createUAS(req, res, { localSdp: req.body }).catch(() => undefined); });
  });
  afterAll(async () => {
    disconnectSrf(app);
    await edge?.close();
  });

  it('a response counts only from where its request went: a forged 200 from elsewhere changes nothing', async () => {
    const target = await UdpPeer.open('127.0.0.1');
    const forger = await UdpPeer.open('127.0.0.6');
    try {
      const before = await droppedBy('response_source');
      const res = new Promise<number>((resolve) => {
        app.request(`sip:bob@127.0.0.1:${target.port}`, { method: 'OPTIONS' }, (err: unknown, req: AnySrf) => {
          if (err) resolve(-1);
          else req.on('response', (r: AnySrf) => resolve(r.status));
        });
      });
      const req = await target.next((t) => t.startsWith('OPTIONS '));
      await forger.send(responseFor(req!, 200, 'forged'), edge.sipPort);
      await sleep(300);
      await target.send(responseFor(req!, 486, 'real'), edge.sipPort);
      expect(await res).toBe(486);
      expect(await droppedBy('response_source')).toBe(before + 1);
    } finally {
      await Promise.all([target.close(), forger.close()]);
    }
  });

  it('one source gets its burst and rate, not more; another source keeps its own share', async () => {
    const noisy = await UdpPeer.open('127.0.0.7');
    const quiet = await UdpPeer.open('127.0.0.8');
    try {
      const before = await droppedBy('rate_limited');
      const uri = `sip:x@127.0.0.1:${edge.sipPort}`;
      for (let i = 0; i < 100; i++) await noisy.send(sipRequest({ method: 'OPTIONS', uri, from: { address: noisy.address, port: noisy.port } }), edge.sipPort);
      for (let i = 0; i < 5; i++) await quiet.send(sipRequest({ method: 'OPTIONS', uri, from: { address: quiet.address, port: quiet.port } }), edge.sipPort);
      // every datagram accounted for: answered, or dropped and counted (no wall-time window to wait out)
      const ok = (p: UdpPeer) => p.received.filter((m) => statusOf(m.text) === 200).length;
      await eventually('each of the 100 answered or counted as dropped, the quiet source answered', async () =>
        ok(noisy) + (await droppedBy('rate_limited')) - before >= 100 && ok(quiet) >= 5);
      const answered = ok(noisy);
      expect(answered).toBeGreaterThanOrEqual(20); // the burst
      expect(answered).toBeLessThan(100);
      expect(await droppedBy('rate_limited')).toBe(before + 100 - answered);
      expect(quiet.received.filter((m) => statusOf(m.text) === 200)).toHaveLength(5);
    } finally {
      await Promise.all([noisy.close(), quiet.close()]);
    }
  });

  it('beyond maxDialogs a new INVITE gets a stateless 503', async () => {
    const caller = await UdpPeer.open('127.0.0.9');
    try {
      const me = { address: caller.address, port: caller.port };
      const uri = `sip:x@127.0.0.1:${edge.sipPort}`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const callId = `${rnd()}@cap`;
        await caller.send(sipRequest({ uri, from: me, callId }), edge.sipPort);
        const r = await caller.next((t) => t.includes(callId) && statusOf(t) >= 200, 3000);
        statuses.push(r ? statusOf(r) : 0);
      }
      expect(statuses).toEqual([200, 200, 503]);
      expect(edge.stats().dialogs).toBe(2);
    } finally {
      await caller.close();
    }
  });
});

describe('the allow-list survives a PostgreSQL outage (own PostgreSQL, stopped and started)', () => {
  let pg: OwnPostgres;
  beforeAll(async () => { pg = await startOwnPostgres(); }, 120_000);
  afterAll(() => { pg?.destroy(); });

  it('keeps the last good list while PostgreSQL is down, and follows changes once it is back', async () => {
    const pool = createPool(pg.url, 3);
    await migrate(pool);
    await pool.query(`insert into ingress_trunks (name, address) values ('t1', '10.9.0.0/16')`);
    await pool.query(`insert into carrier_gateways (name, host) values ('g1', '192.0.2.10'), ('g2', 'localhost')`);
    const list = new SourceAllowList();
    const refresh = await startSourceRefresh({ pool, list, logger: pino({ level: 'silent' }), intervalMs: 200 });
    try {
      expect(list.snapshot()).toEqual({ trunks: ['10.9.0.0/16'], gateways: ['127.0.0.1', '192.0.2.10'] });
      pg.stop();
      await expect(refresh.reload()).rejects.toThrow();
      await sleep(600); // a few refresh ticks fail meanwhile
      expect(list.allows('10.9.4.4')).toBe(true);
      expect(list.allows('192.0.2.10')).toBe(true);
      pg.start();
      await eventually('PostgreSQL is back', async () => pool.query('select 1').then(() => true, () => false), 20_000);
      await pool.query(`update ingress_trunks set enabled = false`);
      await eventually('the disabled trunk leaves the list', async () => !list.allows('10.9.4.4'));
      expect(list.allows('192.0.2.10')).toBe(true);
    } finally {
      await refresh.stop();
      await pool.end();
    }
  }, 60_000);

  it('the LISTEN connection killed: no crash, LISTEN again at the next refresh; killing connections after stop crashes nothing', async () => {
    const pool = createPool(pg.url, 3);
    await migrate(pool);
    const killListeners = async (): Promise<number> => (await pool.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where query ilike 'listen%' and pid <> pg_backend_pid()`)).rows[0]!.n;
    const list = new SourceAllowList();
    const refresh = await startSourceRefresh({ pool, list, logger: pino({ level: 'silent' }), intervalMs: 200 });
    try {
      expect(await killListeners()).toBe(1);
      await eventually('a new LISTEN connection', async () => (await pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where query ilike 'listen%' and pid <> pg_backend_pid()`)).rows[0]!.n === 1);
      await pool.query(`insert into ingress_trunks (name, address) values ('t9', '10.99.0.1')`);
      await eventually('the change arrives', async () => list.allows('10.99.0.1'));
    } finally {
      await refresh.stop();
    }
    // every connection the pool still holds (idle) is killed from outside: no error of a released client reaches the
    // process (the LISTEN client's handlers once released it a second time: an uncaught exception)
    const killer = createPool(pg.url, 1);
    const killed = (await killer.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)).rows[0]!.n;
    await killer.end();
    expect(killed).toBeGreaterThan(0);
    await eventually('the pool dropped its dead clients', async () => pool.query('select 1').then(() => true, () => false));
    await pool.end();
  }, 60_000);
});
