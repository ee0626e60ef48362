/**
 * Failure policy with stores down. Redis: this file starts its OWN redis-server (AOF, fsync always) on a free port
 * and kills it with SIGKILL mid-call, then restarts it on the same data. PostgreSQL: a private server (initdb +
 * pg_ctl, test/helpers/own-pg.ts) is stopped mid-run; the shared server is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { startOwnPostgres } from '../helpers/own-pg.js';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { createChargingEngine } from '../../src/charging/engine.js';
import { createChargingRedis, waitReady } from '../../src/charging/redis.js';
import { rerate } from '../../src/rating/charge.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { available, facts, outbox, silent, startInstance, stopInstance, testConfig } from './setup.js';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
let plan: string;
let ownRedis: OwnRedis; // AOF with fsync always, like production Redis

beforeAll(async () => {
  db = await createTestDb();
  plan = await createPlan(db.pool, 'fail-plan', [{ prefix: '86', price: '0.6' }]);
  ownRedis = await startOwnRedis({ appendOnly: true });
});
afterAll(async () => {
  await ownRedis?.destroy();
  await db.drop();
});

describe('Redis stopped mid-run (own redis-server, SIGKILL; manual clock)', () => {
  it('new calls → store_down (terminate) or a bounded grant (continue); live calls cut at grant end; restart → settled once', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const tenant = await createTenant(db.pool, 'rd1', plan);
    const { bucketId } = await createBucket(db.pool, tenant, 'paid', 1000n);
    const inst = await startInstance(ownRedis.url, 'rd:', db.pool, clock, 'rd-A');
    const e = inst.engine;
    const settle = () => e.idle();
    const req = (callId: string, failurePolicy: 'terminate' | 'continue') => ({ callId, tenantId: tenant, calledNumber: '8613800138000', at: clock.now(), failurePolicy });

    expect(await e.authorize(req('live', 'terminate'))).toMatchObject({ ok: true });
    const ans = clock.now();
    const cuts: number[] = [];
    await e.answered('live', ans, (at) => cuts.push(at));

    await ownRedis.kill();
    expect(await e.authorize(req('new-t', 'terminate'))).toMatchObject({ ok: false, reason: 'store_down' });
    const cont = await e.authorize(req('new-c', 'continue'));
    expect(cont).toMatchObject({ ok: true, maxSeconds: 10 });
    const contCuts: number[] = [];
    await e.answered('new-c', clock.now(), (at) => contCuts.push(at));

    await clock.advance(12_000, settle); // slice requests fail; the live call is cut exactly at its grant end
    expect(cuts).toEqual([ans + 10_000]);
    expect(contCuts).toEqual([ans + 10_000]);
    const r = await e.finish(facts('live', tenant, ans, ans, ans + 10_300));
    expect(r).toMatchObject({ chargeFen: 10n, duplicate: false });
    await e.finish(facts('new-c', tenant, ans, ans, ans + 10_200));
    await e.recordRejected({ ...facts('new-t', tenant, ans, null, ans), result: 'rejected', sipStatus: 503, rejectReason: 'store_down' });
    expect(e.pendingSettlements()).toBe(3);

    await ownRedis.start();
    await eventually('Redis reconnected', () => inst.redis.status === 'ready');
    await clock.advance(2000, settle); // deferred settlements replay
    expect(e.pendingSettlements()).toBe(0);
    await clock.advance(5000, settle); // a second replay round must not duplicate anything
    const events = await outbox(inst.redis);
    expect(events.map((x) => x.eventId).sort()).toEqual(['call:live', 'call:new-c', 'call:new-t']);
    const live = events.find((x) => x.eventId === 'call:live')!;
    expect(live.debits).toEqual([{ bucketId, amountFen: '10' }]);
    expect(rerate(live.cdr!).chargeFen).toBe(10n);
    // the 'continue' call had no reservation: charged from what was there when Redis came back
    expect(events.find((x) => x.eventId === 'call:new-c')!.cdr!.chargeFen).toBe('10');
    expect(await available(inst.redis, tenant)).toBe(980n);
    await stopInstance(inst);
  });
});

describe('PostgreSQL stopped mid-run (own server, pg_ctl stop; manual clock)', () => {
  it('calls go on with the cached rate deck and the Redis balance; a never-loaded tenant gets store_down', async () => {
    const own = await startOwnPostgres();
    const prefix = testPrefix();
    const pool = createPool(own.url, 2);
    try {
      await migrate(pool);
      const clock = new ManualClock(Date.UTC(2026, 5, 1));
      const p = await createPlan(pool, 'pg-plan', [{ prefix: '86', price: '0.6' }]);
      const tenant = await createTenant(pool, 'pg1', p);
      const other = await createTenant(pool, 'pg2', p);
      await createBucket(pool, tenant, 'paid', 100n);
      await createBucket(pool, other, 'paid', 100n);
      const redis = testChargingRedis(prefix);
      await waitReady(redis);
      const e = createChargingEngine({ redis, pool, config: testConfig(), logger: silent, instanceId: 'pg-A', clock, sweepIntervalMs: 0 });
      const req = (callId: string, t: string) => ({ callId, tenantId: t, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' as const });
      expect(await e.authorize(req('w', tenant))).toMatchObject({ ok: true });
      await e.finish(facts('w', tenant, clock.now(), null, clock.now()));
      own.stop();
      await clock.advance(600_000); // past the deck's refresh age: the reload fails, the stale deck serves
      expect(await e.authorize(req('x', tenant))).toMatchObject({ ok: true });
      const ans = clock.now();
      await e.answered('x', ans, () => undefined);
      await clock.advance(30_000, () => e.idle());
      expect(await e.finish(facts('x', tenant, ans, ans, ans + 30_000))).toMatchObject({ chargeFen: 30n });
      expect(await e.authorize(req('y', other))).toMatchObject({ ok: false, reason: 'store_down' });
      expect((await outbox(redis)).map((x) => x.eventId)).toEqual(['call:w', 'call:x']); // waiting for the consumer
      await e.close();
      redis.disconnect();
      await deleteKeys(TEST_REDIS_URL, prefix);
    } finally {
      await pool.end().catch(() => undefined);
      own.destroy();
    }
  });
});
