import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { liveCallsByTenant, publishCut, subscribeCuts, type CutMessage } from '../../src/sip/control.js';
import { createLimits } from '../../src/sip/limits.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';

const prefix = testPrefix();
let redis: ChargingRedis;
beforeAll(() => {
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
});
afterAll(async () => {
  await deleteKeys(TEST_REDIS_URL, prefix);
  await redis.quit();
});

describe('SIP control channel (real Redis)', () => {
  it('a cut reaches every subscribed instance of the same prefix, and only those', async () => {
    const got: CutMessage[][] = [[], []];
    const other: CutMessage[] = [];
    const otherRedis = testChargingRedis(testPrefix(), {}, { enableOfflineQueue: true });
    const unsub = [await subscribeCuts(redis, (m) => got[0]!.push(m)), await subscribeCuts(redis, (m) => got[1]!.push(m)), await subscribeCuts(otherRedis, (m) => other.push(m))];
    expect(await publishCut(redis, '42', 'fraud review')).toBe(2);
    await redis.publish(`${prefix}sip:control`, 'not json'); // ignored
    await redis.publish(`${prefix}sip:control`, JSON.stringify({ action: 'cut', tenantId: 7 })); // ignored: bad shape
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([[{ action: 'cut', tenantId: '42', reason: 'fraud review' }], [{ action: 'cut', tenantId: '42', reason: 'fraud review' }]]);
    expect(other).toEqual([]);
    for (const u of unsub) await u();
    await otherRedis.quit();
  });

  it('refuses a tenant id that is not a decimal id', async () => {
    await expect(publishCut(redis, 'acme')).rejects.toThrow(/decimal id/);
  });

  it('live calls per tenant come from the shared concurrency sets', async () => {
    const limits = createLimits(redis, { timeZone: 'Asia/Shanghai' });
    await limits.admit('5', 'a', 10, 10);
    await limits.admit('5', 'b', 10, 10);
    await limits.admit('6', 'c', 10, 10);
    const all = await liveCallsByTenant(redis);
    expect(all.get('5')).toBe(2);
    expect(all.get('6')).toBe(1);
    expect((await liveCallsByTenant(redis, '5')).get('5')).toBe(2);
    expect((await liveCallsByTenant(redis, '9')).get('9')).toBe(0);
  });
});
