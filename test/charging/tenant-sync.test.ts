import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testChargingRedis, testKeys as keys, testPrefix } from '../helpers/redis.js';
import { createChargingRedis, waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { applyCredit, loadTenant, setTenantState, subscribeTenantControl, type ControlMessage } from '../../src/charging/tenant-sync.js';
import { createBucket, createPlan, createTenant } from './fixtures.js';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
});
afterAll(async () => {
  await redis.quit();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

describe('tenant-sync', () => {
  it('applyCredit is idempotent by transfer id and publishes a credit control message', async () => {
    const got: ControlMessage[] = [];
    const unsubscribe = await subscribeTenantControl(redis, (m) => got.push(m));
    const c = { tenantId: '901', bucketId: '55', kind: 'paid' as const, amountFen: 1234n, validFrom: new Date(0), expiresAt: null, transferId: 'tr-1' };
    expect(await applyCredit(redis, c)).toBe(true);
    expect(await applyCredit(redis, c)).toBe(false);
    expect(await applyCredit(redis, { ...c, transferId: 'tr-2', amountFen: 6n })).toBe(true);
    expect(await redis.hget(keys.buckets('901'), '55')).toBe('1240');
    expect(await redis.hget(keys.bucketMeta('901'), '55')).toBe('paid|0|');
    // a marker published after them on the same connection: once it is here, every earlier message is too
    await applyCredit(redis, { ...c, tenantId: '9019', transferId: 'tr-marker' });
    await eventually('the marker message', () => got.some((m) => m.tenantId === '9019'));
    expect(got).toEqual([{ tenantId: '901', action: 'credit' }, { tenantId: '901', action: 'credit' }, { tenantId: '9019', action: 'credit' }]);
    await unsubscribe();
  });

  it('applyCredit refuses bad input with a clear error and writes nothing', async () => {
    const c = { tenantId: '902', bucketId: '1', kind: 'paid' as const, amountFen: 0n, validFrom: new Date(0), expiresAt: null, transferId: 'x' };
    await expect(applyCredit(redis, c)).rejects.toThrow(/amount must be > 0/);
    await expect(applyCredit(redis, { ...c, amountFen: 5n, tenantId: 'abc' })).rejects.toThrow(/tenantId/);
    expect(await redis.exists(keys.buckets('902'))).toBe(0);
  });

  it('setTenantState writes the state and publishes suspend/resume/terminate', async () => {
    const got: ControlMessage[] = [];
    const unsubscribe = await subscribeTenantControl(redis, (m) => got.push(m));
    const end = new Date('2027-01-01T00:00:00Z');
    await setTenantState(redis, { tenantId: '903', status: 'suspended', serviceStart: null, serviceEnd: end, ratePlanId: '4' });
    expect(await redis.hgetall(keys.tenant('903'))).toEqual({ status: 'suspended', start: '', end: String(end.getTime()), plan: '4' });
    await setTenantState(redis, { tenantId: '903', status: 'active', serviceStart: null, serviceEnd: end, ratePlanId: '4' });
    await setTenantState(redis, { tenantId: '903', status: 'terminated', serviceStart: null, serviceEnd: end, ratePlanId: null });
    await setTenantState(redis, { tenantId: '9039', status: 'suspended', serviceStart: null, serviceEnd: null, ratePlanId: null }); // marker
    await eventually('the marker message', () => got.some((m) => m.tenantId === '9039'));
    expect(got).toEqual([{ tenantId: '903', action: 'suspend' }, { tenantId: '903', action: 'resume' }, { tenantId: '903', action: 'terminate' }, { tenantId: '9039', action: 'suspend' }]);
    await unsubscribe();
  });

  it('loadTenant cold-loads ledger balances once; credits already in the ledger are not applied again', async () => {
    const plan = await createPlan(db.pool, 'p-sync', [{ prefix: '86', price: '0.1' }]);
    const start = new Date('2026-01-01T00:00:00Z');
    const tenant = await createTenant(db.pool, 'sync1', plan, { start });
    const paid = await createBucket(db.pool, tenant, 'paid', 10_000n);
    const exp = new Date('2026-12-31T00:00:00Z');
    const gift = await createBucket(db.pool, tenant, 'gift', 500n, start, exp);
    await loadTenant(db.pool, redis, tenant);
    expect(await redis.hgetall(keys.buckets(tenant))).toEqual({ [paid.bucketId]: '10000', [gift.bucketId]: '500' });
    expect(await redis.hget(keys.bucketMeta(tenant), gift.bucketId)).toBe(`gift|${start.getTime()}|${exp.getTime()}`);
    expect(await redis.hgetall(keys.tenant(tenant))).toMatchObject({ status: 'active', start: String(start.getTime()), end: '', plan, loaded: '1' });
    // the CLI's late applyCredit of a transfer that the cold load already counted is a no-op
    expect(await applyCredit(redis, { tenantId: tenant, bucketId: paid.bucketId, kind: 'paid', amountFen: 10_000n, validFrom: new Date(0), expiresAt: null, transferId: paid.transferId })).toBe(false);
    // a second load refreshes state but leaves the live balance alone
    await redis.hincrby(keys.buckets(tenant), paid.bucketId, -300);
    await db.pool.query(`update tenants set status = 'suspended' where id = $1`, [tenant]);
    await loadTenant(db.pool, redis, tenant);
    expect(await redis.hget(keys.buckets(tenant), paid.bucketId)).toBe('9700');
    expect(await redis.hget(keys.tenant(tenant), 'status')).toBe('suspended');
  });

  it('a cold load racing top-ups keeps credits the ledger snapshot lacks and does not count the others twice', async () => {
    const plan = await createPlan(db.pool, 'p-race', [{ prefix: '86', price: '0.1' }]);
    const tenant = await createTenant(db.pool, 'race1', plan);
    const paid = await createBucket(db.pool, tenant, 'paid', 10_000n);
    const base = { tenantId: tenant, bucketId: paid.bucketId, kind: 'paid' as const, validFrom: new Date(0), expiresAt: null };
    // applied to Redis before the load: one already in the ledger snapshot, one committed after it
    expect(await applyCredit(redis, { ...base, amountFen: 10_000n, transferId: paid.transferId })).toBe(true);
    expect(await applyCredit(redis, { ...base, amountFen: 50n, transferId: 'after-snapshot' })).toBe(true);
    await loadTenant(db.pool, redis, tenant);
    expect(await redis.hget(keys.buckets(tenant), paid.bucketId)).toBe('10050');
    expect((await redis.smembers(keys.credits(tenant))).sort()).toEqual(['after-snapshot', paid.transferId].sort());
  });

  it('loadTenant of an unknown tenant throws', async () => {
    await expect(loadTenant(db.pool, redis, '999999')).rejects.toThrow(/does not exist/);
  });
});
