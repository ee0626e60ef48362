/**
 * The app ⇄ drachtio-server link breaking while the server itself lives on (real drachtio-server 0.9.4, a TCP relay
 * on the control connection that is cut). drachtio-server ties a dialog to the app connection that made it, so the
 * app ends the call at once, billed up to the break, and — once reconnected — hangs both dialogs up through the new
 * connection: the caller and the carrier each get a BYE, nobody talks on unbilled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { startApp, type RunningApp } from '../../src/app.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { eventually } from '../helpers/poll.js';
import { freePort } from '../helpers/ports.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';
import { killSipps, scenarioFor } from './harness.js';
import { cdrsSince, placeCalls, readyz, startCarrier, waitActiveCalls } from './topology-fixture.js';

const missing = drachtioServerMissing();
const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });
let db: TestDb;
const prefix = testPrefix();
let server: DrachtioServer;
let relay: TcpRelay;
let app: RunningApp | null = null;
let carrierPort = 0;

describe.skipIf(missing !== null)(`a broken link to a live drachtio-server${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    server = await startDrachtioServer({ transports: ['udp'] });
    relay = await startTcpRelay(server.controlPort);
    const config = loadConfig({}, {
      'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'http.port': 0,
      'drachtio.servers': [`127.0.0.1:${relay.port}`], 'drachtio.secret': server.secret,
      'demo.autoSeed': true, 'shutdown.drainSeconds': 1, 'sip.optionsPingSeconds': 0, 'log.level': process.env.SIP_TEST_LOG ?? 'silent',
    });
    app = await startApp(config, logger);
    carrierPort = await freePort();
    await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
  });

  afterAll(async () => {
    killSipps();
    await app?.shutdown('test end');
    await relay?.close();
    await server?.stop();
    await deleteKeys(TEST_REDIS_URL, prefix);
    await db?.drop();
  });

  it('ends the call billed up to the break, then sends both parties a BYE through the new connection', async () => {
    const base = `http://127.0.0.1:${app!.httpPort}`;
    const t0 = new Date();
    // the carrier expects our BYE; the caller expects a BYE with our Reason text
    const { done: carrierDone } = await startCarrier(carrierPort, 1);
    const caller = placeCalls(server.sipPort, scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'service unavailable' }), { caller: '+8657188880000', holdMs: 60_000 });
    await waitActiveCalls(base, 1);
    await new Promise((r) => setTimeout(r, 1500));

    relay.cut();
    const [cdr] = await cdrsSince(db.pool, t0, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: `drachtio server 127.0.0.1:${relay.port} lost` });
    expect(cdr!.billable_seconds).toBeGreaterThanOrEqual(1);
    expect(BigInt(cdr!.charge_fen)).toBeGreaterThan(0n);

    await eventually('reconnected', async () => (await readyz(base)).body.details?.drachtio[`127.0.0.1:${relay.port}`] === true);
    expect(await caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrierDone).toMatchObject({ successful: 1, failed: 0 });
    // the BYEs went out of the real server, sent over the new connection
    expect(server.log()).toMatch(/BYE sip:[^\n]*\n[\s\S]*Reason: Q\.850;cause=16;text="service unavailable"/);
  });
});
