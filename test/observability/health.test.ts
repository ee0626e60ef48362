/**
 * /healthz, /readyz and /metrics of the HTTP server with the probes the app registers, on real components: a Redis
 * server of this test's own (started on a free port, then killed and restarted), the shared PostgreSQL, a
 * PostgreSQL address where nothing listens, drachtio-srf connected to an embedded edge (closed and restarted), and
 * a real outbox consumer (stopped and replaced).
 */
import type { ChargingRedis } from '../../src/charging/redis.js';
import { testChargingRedis } from '../helpers/redis.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { drachtioProbe, postgresProbe, redisProbe } from '../../src/observability/probes.js';
import { startEdge, type Edge } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import { connectSrf } from '../../src/sip/connect.js';
import type { TypedSrf } from '../../src/sip/srf-types.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { eventually } from '../helpers/poll.js';
import { Readiness } from '../../src/observability/readiness.js';
import { registry } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/util/logger.js';
import { ADMIN_URL } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { missingFamilies, parseExposition, sampleValue, scrapeMetrics } from './helpers/exposition.js';

let own: OwnRedis;
let redis: ChargingRedis;
let pool: Pool;
let http: HttpServer;
let base: string;
let readiness: Readiness;
let edge: Edge;
let controlPort: number;
let srf: TypedSrf;
let outbox: OutboxConsumer;
const logger = createLogger('silent');
const SECRET = 'health-test';

const startTestEdge = (): Promise<Edge> =>
  startEdge({ sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort, secret: SECRET, logger, sources: ANY_SOURCE });
const startOutbox = (): OutboxConsumer => {
  const c = createOutboxConsumer({ redis, pool, logger, instanceId: 'health-test', options: { blockMs: 50 } });
  c.start();
  return c;
};

async function readyz(): Promise<{ status: number; body: any }> {
  const res = await fetch(base + '/readyz');
  expect(res.headers.get('content-type')).toContain('application/json');
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  own = await startOwnRedis();
  // refused while the test has Redis killed: the probe reports it
  redis = testChargingRedis('health:', {}, { enableOfflineQueue: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 }, own.url);
  pool = createPool(ADMIN_URL, 2);
  controlPort = await freePort(); // the edge comes back on the same port, where srf reconnects
  edge = await startTestEdge();
  srf = await connectSrf({ host: '127.0.0.1', port: controlPort, secret: SECRET }, logger);
  outbox = startOutbox();
  // as src/app.ts registers them
  readiness = new Readiness(300);
  readiness.add('drachtio', drachtioProbe(srf));
  readiness.add('redis', redisProbe(redis));
  readiness.add('postgres', postgresProbe(pool));
  readiness.add('outbox', () => outbox.alive());
  const config = loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0 });
  http = createHttpServer({ config, logger, readiness });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
});

afterAll(async () => {
  await http?.close();
  await outbox?.stop();
  srf?.disconnect();
  await edge?.close();
  redis?.disconnect();
  await pool?.end();
  await own?.destroy();
});

describe('/healthz', () => {
  it('answers 200 while the process runs, whatever the dependencies (PostgreSQL unreachable here)', async () => {
    const rd = new Readiness(2000);
    const deadPool = createPool(`postgres://postgres@127.0.0.1:${await freePort()}/postgres`, 1);
    rd.add('postgres', postgresProbe(deadPool));
    const server = createHttpServer({ config: loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0 }), logger, readiness: rd });
    const url = `http://127.0.0.1:${(await server.listen()).port}`;
    const ready = await fetch(url + '/readyz');
    const res = await fetch(url + '/healthz');
    await server.close();
    await deadPool.end();
    expect(ready.status).toBe(503);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).status).toBe('ok');
    const head = await fetch(base + '/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });
});

describe('/readyz', () => {
  it('is 200 when drachtio, Redis, PostgreSQL and the outbox consumer are all up', async () => {
    const r = await readyz();
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true, down: [], components: { drachtio: true, redis: true, postgres: true, outbox: true } });
  });

  it('names the component that is down: drachtio disconnected (edge closed), outbox consumer stopped', async () => {
    await edge.close();
    await eventually('readyz 503 with drachtio down', async () => (await readyz()).status === 503);
    expect((await readyz()).body.down).toEqual(['drachtio']);
    edge = await startTestEdge();
    await eventually('srf reconnected and readyz 200', async () => (await readyz()).status === 200, 30_000);
    await outbox.stop();
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.down).toEqual(['outbox']);
    outbox = startOutbox();
    expect((await readyz()).status).toBe(200);
  });

  it('goes unready when its Redis server is killed and ready again when Redis is back', async () => {
    await own.kill();
    await eventually('readyz 503 after Redis was killed', async () => (await readyz()).status === 503);
    const r = await readyz();
    expect(r.body.down).toEqual(['redis']);
    expect(r.body.components.redis).not.toBe(true);
    // the scrape itself runs the probes: the gauge is fresh without anyone polling /readyz
    const down = await scrapeMetrics(base);
    expect(sampleValue(down, 'softswitch_component_up', { component: 'redis' })).toBe(0);
    expect(sampleValue(down, 'softswitch_component_up', { component: 'postgres' })).toBe(1);
    await own.start();
    await eventually('readyz 200 after Redis restarted', async () => (await readyz()).status === 200);
  });

  it('reports PostgreSQL down when the database cannot be reached', async () => {
    const deadPort = await freePort();
    const deadPool = createPool(`postgres://postgres@127.0.0.1:${deadPort}/postgres`, 1);
    const rd = new Readiness(2000);
    rd.add('postgres', postgresProbe(deadPool));
    const r = await rd.check();
    await deadPool.end();
    expect(r.ready).toBe(false);
    expect(typeof r.components.postgres).toBe('string'); // the connection error text
    expect(r.components.postgres).toMatch(/ECONNREFUSED|connect/);
  });

  it('turns a hanging probe into "timeout" and a throwing probe into its error text', async () => {
    const rd = new Readiness(100);
    rd.add('slow', () => new Promise<boolean>(() => undefined));
    rd.add('broken', () => {
      throw new Error('socket closed');
    });
    rd.add('fine', async () => true);
    expect(await rd.check()).toEqual({ ready: false, components: { slow: 'timeout', broken: 'socket closed', fine: true } });
  });

  it('a non-critical component (a media server) is reported and counted but never makes the instance unready', async () => {
    const rd = new Readiness(100);
    rd.add('redis', () => true);
    rd.add('media_1', () => false, { critical: false });
    rd.add('media_2', () => true, { critical: false });
    expect(await rd.check()).toEqual({ ready: true, components: { redis: true, media_1: false, media_2: true }, optional: ['media_1', 'media_2'] });
    expect(sampleValue(parseExposition(await registry.metrics()), 'softswitch_component_up', { component: 'media_1' })).toBe(0);
    rd.add('postgres', () => false);
    expect((await rd.check()).ready).toBe(false);
  });

  it('is 503 while draining even with every component up, and says so', async () => {
    readiness.setDraining(true);
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.down).toEqual(['draining']);
    expect(r.body.components.redis).toBe(true);
    expect(sampleValue(parseExposition(await registry.metrics()), 'softswitch_draining')).toBe(1);
    readiness.setDraining(false);
    expect((await readyz()).status).toBe(200);
  });

  it('refuses bad probe names (they become metric labels) and duplicates', () => {
    const rd = new Readiness();
    expect(() => rd.add('Redis Primary', () => true)).toThrow(/probe name/);
    expect(() => rd.add('draining', () => true)).toThrow(/reserved/);
    rd.add('redis', () => true);
    expect(() => rd.add('redis', () => true)).toThrow(/already/);
  });
});

describe('/metrics', () => {
  it('serves every metric of the registry in the Prometheus text format', async () => {
    const res = await fetch(base + '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const e = await scrapeMetrics(base);
    const defined = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(defined.length).toBeGreaterThan(30);
    expect(missingFamilies(e, defined)).toEqual([]);
    // the standard process metrics are there too, under their stock names
    expect(e.families.get('process_cpu_seconds_total')).toBe('counter');
    expect(e.families.get('softswitch_call_duration_seconds')).toBe('histogram');
  });

  it('counts HTTP requests by route pattern, not by concrete URL', async () => {
    await fetch(base + '/no/such/thing/12345');
    const e = await scrapeMetrics(base);
    expect(sampleValue(e, 'softswitch_http_requests_total', { route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(e, 'softswitch_http_requests_total', { route: '/readyz', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(e.samples.some((s) => s.labels.route?.includes('12345'))).toBe(false);
  });
});
