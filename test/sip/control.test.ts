import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { liveCallsByTenant, publishCut, subscribeCuts, type CutMessage } from '../../src/sip/control.js';
import { createLimits } from '../../src/sip/limits.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { eventually } from '../helpers/poll.js';

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
    // markers published after them (the same connection per prefix): once they are here, every earlier message is too
    await publishCut(redis, '43', 'marker');
    await publishCut(otherRedis, '44', 'marker');
    await eventually('the markers', () => got.every((g) => g.some((m) => m.tenantId === '43')) && other.some((m) => m.tenantId === '44'));
    const cut = { action: 'cut', tenantId: '42', reason: 'fraud review' };
    const mark = { action: 'cut', tenantId: '43', reason: 'marker' };
    expect(got).toEqual([[cut, mark], [cut, mark]]);
    expect(other).toEqual([{ action: 'cut', tenantId: '44', reason: 'marker' }]);
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
