import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { DEMO, seedDemo } from '../../src/demo/seed.js';
import { tenantBuckets } from '../../src/store/buckets.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, testChargingRedis, testPrefix, TEST_REDIS_URL } from '../helpers/redis.js';

let db: TestDb;
let redis: ChargingRedis;
const prefix = testPrefix();

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix);
  await waitReady(redis);
});
afterAll(async () => {
  redis.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
});

describe('seedDemo', () => {
  it('three concurrent start-ups seed the sample order exactly once, in PostgreSQL and Redis', async () => {
    const results = await Promise.all([seedDemo(db.pool, redis), seedDemo(db.pool, redis), seedDemo(db.pool, redis)]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const tenantId = results[0]!.tenantId;
    expect(new Set(results.map((r) => r.tenantId))).toEqual(new Set([tenantId]));
    const q = async (sql: string) => Number((await db.pool.query<{ n: bigint }>(`select count(*)::int8 as n from (${sql}) x`)).rows[0]!.n);
    expect(await q(`select 1 from tenants`)).toBe(1);
    expect(await q(`select 1 from orders where order_no = '${DEMO.orderNo}' and total_fen = 1142000 and validity_months = 12`)).toBe(1);
    expect(await q(`select 1 from numbers where e164 = '${DEMO.number}' and state = 'approved' and rent_fen = 42000 and rent_period = 'year'`)).toBe(1);
    // the order's package and its one rent year were billed as receivables and paid with the order (payment order:DEMO-0001)
    expect(await q(`select 1 from receivables where tenant_id = ${tenantId} and kind in ('order', 'rent')`)).toBe(2);
    expect(await q(`select 1 from payments where reference = 'order:${DEMO.orderNo}' and amount_fen = 1142000`)).toBe(1);
    const buckets = await tenantBuckets(db.pool, tenantId);
    expect(buckets.map((b) => [b.kind, b.balanceFen])).toEqual([['paid', 1_100_000n]]);
    expect(await redis.hget(redis.layout.buckets(tenantId.toString()), buckets[0]!.bucketId.toString())).toBe('1100000');
    expect(results.map((r) => r.redis.credit).sort()).toEqual(['already-applied', 'already-applied', 'applied']);
    // audited once, by the run that created it
    const audit = await db.pool.query<{ actor_kind: string; actor_id: string; tenant_id: bigint; after: { order: string } }>(`select actor_kind, actor_id, tenant_id, after from audit_log where action = 'demo.seed'`);
    expect(audit.rows).toEqual([{ actor_kind: 'system', actor_id: 'demo-seed', tenant_id: tenantId, after: expect.objectContaining({ order: DEMO.orderNo, tenant: 'demo' }) }]);
  });

  it('without Redis it still seeds PostgreSQL (Redis skipped), once', async () => {
    const own = await createTestDb(); // a database of its own: independent of the test above
    try {
      const r = await seedDemo(own.pool);
      expect(r).toMatchObject({ created: true, redis: { state: 'skipped', credit: 'skipped' } });
      expect(await seedDemo(own.pool)).toMatchObject({ created: false, tenantId: r.tenantId, redis: { state: 'skipped', credit: 'skipped' } });
      const n = async (sql: string) => (await own.pool.query(sql)).rowCount;
      expect(await n(`select 1 from tenants where code = 'demo'`)).toBe(1);
      expect(await n(`select 1 from orders where order_no = '${DEMO.orderNo}'`)).toBe(1);
      expect((await tenantBuckets(own.pool, r.tenantId)).map((b) => [b.kind, b.balanceFen])).toEqual([['paid', 1_100_000n]]);
      expect(await n(`select 1 from audit_log where action = 'demo.seed'`)).toBe(1);
    } finally {
      await own.drop();
    }
  });
});
