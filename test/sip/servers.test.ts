/**
 * Several drachtio servers (src/sip/servers.ts, src/sip/connect.ts) against real embedded edges as the servers:
 * which servers the config names, connecting to all, starting with one down, losing one and getting it back, a
 * server that goes silent (a TCP relay that stops forwarding stands in for a host that vanished without a FIN).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { startEdge, type Edge } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import { metrics } from '../../src/observability/metrics.js';
import { parseHostPort, SrfConnectError } from '../../src/sip/connect.js';
import { connectSipServers, drachtioTargets, type SipServers } from '../../src/sip/servers.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';

const logger = pino({ level: 'silent' });
const SECRET = 'servers-test';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function edge(controlPort = 0): Promise<Edge> {
  const e = await startEdge({ sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort, secret: SECRET, logger, sources: ANY_SOURCE });
  cleanups.push(() => e.close());
  return e;
}

async function servers(ports: number[], timeoutMs = 5000, link = {}): Promise<SipServers> {
  const s = await connectSipServers(ports.map((port) => ({ host: '127.0.0.1', port, secret: SECRET })), logger, timeoutMs, link);
  cleanups.push(() => s.close());
  return s;
}

async function gauge(server: string): Promise<number | undefined> {
  return (await metrics.drachtioConnected.get()).values.find((v) => v.labels.server === server)?.value;
}

describe('which drachtio servers the config names', () => {
  it('DRACHTIO_SERVERS lists several; DRACHTIO_HOST/PORT is a list of one; neither = the embedded edge', () => {
    const several = loadConfig({ DRACHTIO_SERVERS: '10.0.0.5:9022, sip2.example.net:9023,[fd00::7]:9022', DRACHTIO_SECRET: 'x' });
    expect(drachtioTargets(several)).toEqual([
      { host: '10.0.0.5', port: 9022, secret: 'x' }, { host: 'sip2.example.net', port: 9023, secret: 'x' }, { host: 'fd00::7', port: 9022, secret: 'x' },
    ]);
    expect(drachtioTargets(loadConfig({ DRACHTIO_HOST: '10.0.0.5', DRACHTIO_PORT: '9100', DRACHTIO_SECRET: 'y' }))).toEqual([{ host: '10.0.0.5', port: 9100, secret: 'y' }]);
    expect(drachtioTargets(loadConfig({}))).toEqual([]);
    expect(parseHostPort('[::1]:9022')).toEqual({ host: '::1', port: 9022 });
  });

  it.each([
    [{ DRACHTIO_SERVERS: '10.0.0.5:9022', DRACHTIO_HOST: '10.0.0.6' }, /not both/],
    [{ DRACHTIO_SERVERS: '10.0.0.5' }, /host:port/],
    [{ DRACHTIO_SERVERS: '10.0.0.5:9022,10.0.0.5:9022' }, /each host:port once/],
    [{ DRACHTIO_SERVERS: '10.0.0.5:70000' }, /1 to 65535/],
    [{ DRACHTIO_SERVERS: 'a b:9022' }, /host:port/],
  ])('refuses %j with a ConfigError', (env, msg) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(msg);
  });
});

describe('connectSipServers (embedded edges as the drachtio servers)', () => {
  it('connects to every server; status and the per-server gauge say so; pick() takes them in turn', async () => {
    const [a, b] = [await edge(), await edge()];
    const set = await servers([a.controlPort, b.controlPort]);
    const names = [`127.0.0.1:${a.controlPort}`, `127.0.0.1:${b.controlPort}`];
    expect(set.status()).toEqual({ [names[0]!]: true, [names[1]!]: true });
    expect(await gauge(names[0]!)).toBe(1);
    expect(await gauge(names[1]!)).toBe(1);
    const picked = [set.pick()!.name, set.pick()!.name, set.pick()!.name];
    expect(picked).toEqual([names[0], names[1], names[0]]);
  });

  it('losing one server leaves the other up, and reconnects when it is back on its address', async () => {
    const a = await edge();
    const bPort = await freePort();
    let b = await startEdge({ sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort: bPort, secret: SECRET, logger, sources: ANY_SOURCE });
    cleanups.push(() => b.close());
    const set = await servers([a.controlPort, bPort]);
    const changes: string[] = [];
    set.onChange((s, up) => changes.push(`${s.name} ${up ? 'up' : 'down'}`));
    const bName = `127.0.0.1:${bPort}`;
    const lost = (await metrics.drachtioDisconnects.get()).values.find((v) => v.labels.server === bName)?.value ?? 0;

    await b.close();
    await eventually('b down', () => set.status()[bName] === false);
    expect(set.status()[`127.0.0.1:${a.controlPort}`]).toBe(true);
    expect(set.pick()!.name).toBe(`127.0.0.1:${a.controlPort}`);
    expect(set.pick()!.name).toBe(`127.0.0.1:${a.controlPort}`); // the lost one is never picked
    expect(await gauge(bName)).toBe(0);
    expect((await metrics.drachtioDisconnects.get()).values.find((v) => v.labels.server === bName)?.value).toBe(lost + 1);

    b = await startEdge({ sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort: bPort, secret: SECRET, logger, sources: ANY_SOURCE });
    await eventually('b up again', () => set.status()[bName] === true);
    expect(await gauge(bName)).toBe(1);
    expect(changes).toEqual([`${bName} down`, `${bName} up`]);
  });

  it('starts with one server down (after the timeout), and connects to it once it comes up', async () => {
    const a = await edge();
    const bPort = await freePort();
    const t0 = Date.now();
    const set = await servers([a.controlPort, bPort], 1500);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect(set.status()).toEqual({ [`127.0.0.1:${a.controlPort}`]: true, [`127.0.0.1:${bPort}`]: false });
    await edge(bPort);
    await eventually('b connected', () => set.status()[`127.0.0.1:${bPort}`] === true);
  });

  it('no server reachable: a clear SrfConnectError naming them; a refused secret fails at once', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const err = await connectSipServers([p1, p2].map((port) => ({ host: '127.0.0.1', port, secret: SECRET })), logger, 500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SrfConnectError);
    expect(String(err)).toContain(`127.0.0.1:${p1},127.0.0.1:${p2}`);

    const a = await edge();
    const t0 = Date.now();
    await expect(connectSipServers([{ host: '127.0.0.1', port: a.controlPort, secret: 'wrong' }], logger, 10_000)).rejects.toBeInstanceOf(SrfConnectError);
    expect(Date.now() - t0).toBeLessThan(9000);
  });

  it('a server that stops answering pings is declared lost without waiting for TCP (relay that goes silent)', async () => {
    const a = await edge();
    const relay = await startTcpRelay(a.controlPort);
    cleanups.push(() => relay.close());
    const set = await servers([relay.port], 5000, { pingMs: 5000, missedPings: 1 });
    const name = `127.0.0.1:${relay.port}`;
    expect(set.status()[name]).toBe(true);
    relay.silence(); // the connection stays open, nothing gets through any more
    await eventually('declared lost', () => set.status()[name] === false, 20_000);
    relay.speak();
    await eventually('reconnected', () => set.status()[name] === true, 20_000);
  }, 45_000);
});
