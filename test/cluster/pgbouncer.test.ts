/**
 * The app through a real PgBouncer in transaction pooling mode (deploy/ puts one between the app instances and
 * PostgreSQL): concurrent migrations from several instances, then the `npm start` path (startApp) with a call whose
 * CDR and ledger postings the outbox writes, an operator top-up, reconcile. Transaction pooling hands each
 * transaction (or lone statement) any server connection, so nothing may rely on a session: no session advisory
 * locks, no LISTEN, no named prepared statements, no SET without LOCAL (docs/scaling.md).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { waitReady } from '../../src/charging/redis.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { pgbouncerMissing, startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { killSipps } from '../e2e/harness.js';
import { cdrsSince, placeCalls, readyz, startCarrier } from '../e2e/topology-fixture.js';

const missing = pgbouncerMissing();
const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });
let db: TestDb;
let bouncer: PgBouncer;
const prefix = testPrefix();
let app: RunningApp | null = null;

describe.skipIf(missing !== null)(`through PgBouncer in transaction pooling mode${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    bouncer = await startPgBouncer({ poolMode: 'transaction', poolSize: 5 });
  });
  afterAll(async () => {
    killSipps();
    await app?.shutdown('test end');
    await bouncer?.stop();
    await deleteKeys(TEST_REDIS_URL, prefix).catch(() => undefined);
    await db?.drop();
  });

  it('four instances migrating at once through the bouncer: every migration applied once, no lock left behind', async () => {
    const pools = Array.from({ length: 4 }, () => createPool(bouncer.url(db.name), 3));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.length).toBeGreaterThan(5);
      expect(new Set(applied).size).toBe(applied.length); // each by exactly one instance
      expect((await migrate(pools[0]!)).applied).toEqual([]); // and a later start has nothing to do
      const locks = await db.pool.query<{ n: string }>(`select count(*)::text as n from pg_locks where locktype = 'advisory'`);
      expect(locks.rows[0]!.n).toBe('0');
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('startApp through the bouncer: ready, a call charged with its CDR and ledger postings, Redis = ledger', async () => {
    const config = loadConfig({}, {
      'postgres.url': bouncer.url(db.name), 'postgres.poolSize': 5, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'http.port': 0,
      'edge.sipPort': await freePort(), 'drachtio.port': await freePort(), 'demo.autoSeed': true, 'shutdown.drainSeconds': 1,
      'sip.optionsPingSeconds': 0, 'log.level': process.env.SIP_TEST_LOG ?? 'silent',
    });
    app = await startApp(config, logger);
    const base = `http://127.0.0.1:${app.httpPort}`;
    expect((await readyz(base)).status).toBe(200);
    const carrierPort = await freePort();
    await db.pool.query(`update carrier_gateways set port = $1 where name = 'carrier-local'`, [carrierPort]);
    const t0 = new Date();
    const { done } = await startCarrier(carrierPort, 1);
    expect(await placeCalls(app.sipPort!, 'call-uac-answer.xml', { caller: '+8657188880000', holdMs: 1500 })).toMatchObject({ successful: 1, failed: 0 });
    expect(await done).toMatchObject({ successful: 1 });
    const [cdr] = await cdrsSince(db.pool, t0, 1);
    expect(cdr!.result).toBe('answered');
    const tenant = (await db.pool.query<{ id: string }>(`select id::text from tenants where code = 'demo'`)).rows[0]!.id;
    const posted = await db.pool.query<{ s: string }>(`select coalesce(sum(amount_fen), 0)::text as s from ledger_transfers where kind = 'call_charge' and tenant_id = $1`, [tenant]);
    expect(posted.rows[0]!.s).toBe(cdr!.charge_fen);
    const redis = testChargingRedis(prefix);
    await waitReady(redis);
    try {
      const viaBouncer = new pg.Pool({ connectionString: bouncer.url(db.name), max: 2 });
      const report = await reconcile({ pool: viaBouncer, redis, tenantId: tenant, repair: false });
      await viaBouncer.end();
      expect(report.driftTenants).toBe(0);
      expect(report.ledgerInconsistent).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});
