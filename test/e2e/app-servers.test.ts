/**
 * One app instance (src/app.ts startApp, as `npm start` runs it) behind two SIP servers (DRACHTIO_SERVERS): two
 * real embedded edges stand in for two drachtio-servers. Calls come in through either; each B leg leaves through
 * the server its A leg came through; one book of live calls spans both (operator cut, metrics); losing one server
 * ends its calls (billed up to then), the other keeps serving, /readyz stays ready and says which is down, and the
 * app reconnects when the server is back. Real sipp, Redis and PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startApp, type RunningApp } from '../../src/app.js';
import { waitReady } from '../../src/charging/redis.js';
import { startEdge, type Edge } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import { publishCut } from '../../src/sip/control.js';
import { registry } from '../../src/observability/metrics.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { killSipps, scenarioFor } from './harness.js';
import { cdrsSince, metricsText, placeCalls, readyz, startCarrier, waitActiveCalls } from './topology-fixture.js';

const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });
const SECRET = 'app-servers-test';
const CALLER = '+8657188880000'; // the demo tenant's approved number (demo seed)
let db: TestDb;
const prefix = testPrefix();
let app: RunningApp | null = null;
let base = '';
const edges: { a: Edge | null; b: Edge | null } = { a: null, b: null };
const ports = { aSip: 0, aCtl: 0, bSip: 0, bCtl: 0 };
let names: { a: string; b: string };
let carrierPort = 0;
let tenantId = '';
let config: Config;
let second: RunningApp | null = null;

const edgeOn = (sipPort: number, controlPort: number) =>
  startEdge({ sipHost: '127.0.0.1', sipPort, transports: ['udp'], controlHost: '127.0.0.1', controlPort, secret: SECRET, logger, sources: ANY_SOURCE });

const call = (sipPort: number, scenario: string, holdMs: number) => placeCalls(sipPort, scenario, { caller: CALLER, holdMs });
const carrier = (calls: number) => startCarrier(carrierPort, calls);
const activeCalls = (n: number) => waitActiveCalls(base, n);

beforeAll(async () => {
  db = await createTestDb({ migrate: false }); // startApp migrates
  Object.assign(ports, { aSip: await freePort(), aCtl: await freePort(), bSip: await freePort(), bCtl: await freePort() });
  edges.a = await edgeOn(ports.aSip, ports.aCtl);
  edges.b = await edgeOn(ports.bSip, ports.bCtl);
  names = { a: `127.0.0.1:${ports.aCtl}`, b: `127.0.0.1:${ports.bCtl}` };
  config = loadConfig({}, {
    'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'http.port': 0,
    'drachtio.servers': [names.a, names.b], 'drachtio.secret': SECRET,
    'demo.autoSeed': true, 'shutdown.drainSeconds': 8, 'sip.optionsPingSeconds': 0, 'log.level': process.env.SIP_TEST_LOG ?? 'silent',
  });
  app = await startApp(config, logger);
  base = `http://127.0.0.1:${app.httpPort}`;
  carrierPort = await freePort();
  await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
  tenantId = (await db.pool.query<{ id: string }>(`select id::text from tenants where code = 'demo'`)).rows[0]!.id;
});
afterEach(() => killSipps());
afterAll(async () => {
  killSipps();
  await second?.shutdown('test end');
  await app?.shutdown('test end');
  for (const e of [edges.a, edges.b]) await e?.close();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

describe('one app instance behind two SIP servers (DRACHTIO_SERVERS, embedded edges as the servers)', () => {
  it('is ready with both connected; /readyz details and the per-server gauge list each server', async () => {
    expect(app!.sipPort).toBeNull(); // no embedded edge of its own
    const r = await eventually('ready', async () => {
      const x = await readyz(base);
      return x.status === 200 ? x : null;
    });
    expect(r.body.components.drachtio).toBe(true);
    expect(r.body.details).toEqual({ drachtio: { [names.a]: true, [names.b]: true } });
    const m = await metricsText(base);
    expect(m).toContain(`softswitch_drachtio_connected{server="${names.a}"} 1`);
    expect(m).toContain(`softswitch_drachtio_connected{server="${names.b}"} 1`);
  });

  it('takes calls from both servers for one tenant; each B leg leaves through its A leg\'s server; both are charged', async () => {
    const t0 = new Date();
    const { done: carrierDone } = await carrier(2);
    const viaA = call(ports.aSip, 'call-uac-answer.xml', 3000);
    const viaB = call(ports.bSip, 'call-uac-answer.xml', 3000);
    await activeCalls(2);
    // A leg (UAS dialog) + B leg (UAC dialog) of its own call on each server, none of the other's
    await eventually('both calls answered', async () => (edges.a!.stats().dialogs === 2 && edges.b!.stats().dialogs === 2 ? true : null));
    expect([await viaA, await viaB]).toMatchObject([{ successful: 1, failed: 0 }, { successful: 1, failed: 0 }]);
    expect(await carrierDone).toMatchObject({ successful: 2, failed: 0 });
    const cdrs = await cdrsSince(db.pool, t0, 2);
    expect(cdrs.map((c) => c.result)).toEqual(['answered', 'answered']);
    const charges = await db.pool.query<{ s: bigint }>(`select coalesce(sum(amount_fen), 0)::int8 as s from ledger_transfers where kind = 'call_charge' and tenant_id = $1`, [tenantId]);
    expect(charges.rows[0]!.s).toBe(cdrs.reduce((a, c) => a + BigInt(c.charge_fen), 0n));
    expect(cdrs.every((c) => BigInt(c.charge_fen) > 0n)).toBe(true);
  });

  it('an operator cut reaches the tenant\'s calls on every server', async () => {
    const t0 = new Date();
    const { done: carrierDone } = await carrier(2);
    const scn = scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'fraud review' });
    const viaA = call(ports.aSip, scn, 30_000);
    const viaB = call(ports.bSip, scn, 30_000);
    await activeCalls(2);
    await eventually('both answered', async () => (edges.a!.stats().dialogs === 2 && edges.b!.stats().dialogs === 2 ? true : null));
    const redis = testChargingRedis(prefix);
    await waitReady(redis);
    try {
      expect(await publishCut(redis, tenantId, 'fraud review')).toBeGreaterThanOrEqual(1);
    } finally {
      await redis.quit();
    }
    expect([await viaA, await viaB]).toMatchObject([{ successful: 1, failed: 0 }, { successful: 1, failed: 0 }]);
    expect(await carrierDone).toMatchObject({ successful: 2, failed: 0 });
    expect((await cdrsSince(db.pool, t0, 2)).map((c) => c.disconnect_reason)).toEqual(['fraud review', 'fraud review']);
  });

  it('losing one server ends its call (billed up to then), the other keeps serving and /readyz stays ready; it reconnects when the server is back', async () => {
    const t0 = new Date();
    await carrier(2);
    const viaA = call(ports.aSip, 'call-uac-answer.xml', 4000);
    void call(ports.bSip, 'call-uac-answer.xml', 30_000); // its server goes away under it
    await activeCalls(2);
    await eventually('both answered', async () => (edges.a!.stats().dialogs === 2 && edges.b!.stats().dialogs === 2 ? true : null));
    await new Promise((r) => setTimeout(r, 1200)); // a second of talk to bill

    await edges.b!.close();
    edges.b = null;
    const lost = await eventually('the lost call\'s CDR', async () => {
      const r = await db.pool.query<{ disconnect_reason: string; charge_fen: bigint; billable_seconds: number; disconnect_side: string }>(
        `select disconnect_reason, charge_fen, billable_seconds, disconnect_side from cdrs where invite_at >= $1 and disconnect_reason like 'drachtio server%'`, [t0]);
      return r.rows[0] ?? null;
    });
    expect(lost).toMatchObject({ disconnect_reason: `drachtio server ${names.b} lost`, disconnect_side: 'system' });
    expect(lost.billable_seconds).toBeGreaterThanOrEqual(1);
    expect(BigInt(lost.charge_fen)).toBeGreaterThan(0n);
    expect((await metricsText(base)).split('\n').filter((l) => l.startsWith('softswitch_drachtio_lost_calls_total{'))).toEqual([`softswitch_drachtio_lost_calls_total{server="${names.b}"} 1`]);

    const r = await readyz(base);
    expect(r.status).toBe(200);
    expect(r.body.details).toEqual({ drachtio: { [names.a]: true, [names.b]: false } });
    expect(await metricsText(base)).toContain(`softswitch_drachtio_connected{server="${names.b}"} 0`);
    // the call through the other server was not touched
    expect(await viaA).toMatchObject({ successful: 1, failed: 0 });
    const both = await cdrsSince(db.pool, t0, 2);
    expect(both.filter((c) => c.disconnect_reason === 'caller BYE')).toHaveLength(1);
    killSipps();

    // the server comes back on its address: reconnected and taking calls again
    edges.b = await edgeOn(ports.bSip, ports.bCtl);
    await eventually('reconnected', async () => ((await readyz(base)).body.details?.drachtio[names.b] === true ? true : null));
    const t1 = new Date();
    const { done: carrierDone } = await carrier(1);
    expect(await call(ports.bSip, 'call-uac-answer.xml', 1000)).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: 1, failed: 0 });
    expect((await cdrsSince(db.pool, t1, 1))[0]!.result).toBe('answered');
  });

  it('a draining instance takes no new calls from the servers: they go to the other instance connected to them', async () => {
    second = await startApp(config, logger); // a second instance on the same two servers, database and Redis
    const instances = [app!, second];
    // a live call that keeps its instance draining, on whichever instance the server gave it to
    const t0 = new Date();
    const { done: carrierDone } = await carrier(3);
    const live = call(ports.aSip, scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'service shutdown' }), 30_000);
    // answered, not only authorized: activeCalls() counts a call from its authorization on, and a drain that starts
    // before the 200 turns the live call away instead of keeping it (the gateway gauge counts connected calls)
    const holder = await eventually('the live call answered', async () => {
      const busy = instances.filter((a) => a.activeCalls() === 1);
      const connected = (await registry.getSingleMetric('softswitch_gateway_active_calls')!.get()).values.reduce((n, v) => n + v.value, 0);
      return busy.length === 1 && connected === 1 && instances.every((a) => a.activeCalls() <= 1) ? busy[0]! : null;
    });
    const other = holder === app ? second : app!;
    const stopping = holder.shutdown('test drain');
    await eventually('draining', async () => (await readyz(`http://127.0.0.1:${holder.httpPort}`)).status === 503);
    // new calls through both servers: all answered, by the instance that is not draining
    const fresh = await Promise.all([call(ports.aSip, 'call-uac-answer.xml', 500), call(ports.bSip, 'call-uac-answer.xml', 500)]);
    expect(fresh).toMatchObject([{ successful: 1, failed: 0 }, { successful: 1, failed: 0 }]);
    const rows = await cdrsSince(db.pool, t0, 2);
    expect(rows.filter((r) => r.result === 'answered')).toHaveLength(2);
    expect(rows.some((r) => r.disconnect_reason === 'draining' || r.result === 'rejected')).toBe(false);
    // the drained instance cuts its live call at the deadline and stops; the other keeps serving
    await stopping;
    if (holder === app) app = null;
    else second = null;
    expect(await live).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: 3, failed: 0 });
    expect((await readyz(`http://127.0.0.1:${other.httpPort}`)).status).toBe(200);
  }, 60_000);
});
