import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { createLimits, dayKey } from '../../src/sip/limits.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';

const prefix = testPrefix();
let redis: ChargingRedis;
let redis2: ChargingRedis;

beforeAll(() => {
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
  redis2 = testChargingRedis(prefix, {}, { enableOfflineQueue: true }); // a second "instance"
});
afterAll(async () => {
  await deleteKeys(TEST_REDIS_URL, prefix);
  await Promise.all([redis.quit(), redis2.quit()]);
});

describe('limits in Redis (admit.lua)', () => {
  const tz = 'Asia/Shanghai';

  it('50 concurrent admissions from two instances never exceed max concurrent', async () => {
    const a = createLimits(redis, { timeZone: tz });
    const b = createLimits(redis2, { timeZone: tz });
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).admit('101', `c${i}`, 7, 1000, now)),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(7);
    expect(results.filter((r) => r === 'concurrency')).toHaveLength(43);
    expect(await a.liveCount('101', now)).toBe(7);
  });

  it('CPS: max per second, refusals take no slot, next second admits again', async () => {
    const l = createLimits(redis, { timeZone: tz });
    const t0 = Math.floor(Date.now() / 1000) * 1000 + 10_000;
    const r = await Promise.all([1, 2, 3, 4].map((i) => l.admit('102', `c${i}`, 100, 2, t0)));
    expect(r.filter((x) => x === 'ok')).toHaveLength(2);
    expect(r.filter((x) => x === 'cps')).toHaveLength(2);
    expect(await l.liveCount('102', t0)).toBe(2);
    expect(await l.admit('102', 'c5', 100, 2, t0 + 1000)).toBe('ok');
  });

  it('release frees a slot; re-admitting the same call takes no second slot', async () => {
    const l = createLimits(redis, { timeZone: tz });
    const now = Date.now();
    expect(await l.admit('103', 'x', 1, 100, now)).toBe('ok');
    expect(await l.admit('103', 'x', 1, 100, now)).toBe('ok');
    expect(await l.admit('103', 'y', 1, 100, now)).toBe('concurrency');
    await l.release('103', 'x');
    expect(await l.admit('103', 'y', 1, 100, now)).toBe('ok');
  });

  it('a dead instance\'s slot expires with its lease; renew keeps a live call', async () => {
    // leases in the script's clock (the `now` given); the key's own Redis TTL (2 leases of real time) is far away,
    // so a stalled test process cannot lose the set
    const l = createLimits(redis, { timeZone: tz, leaseMs: 60_000 });
    const now = Date.now();
    expect(await l.admit('104', 'dead', 2, 100, now)).toBe('ok');
    expect(await l.admit('104', 'live', 2, 100, now)).toBe('ok');
    await l.renew([{ tenantId: '104', callId: 'live' }], now + 50_000);
    expect(await l.liveCount('104', now + 59_000)).toBe(2);
    expect(await l.admit('104', 'new', 2, 100, now + 70_000)).toBe('ok'); // 'dead' lease ran out, 'live' renewed
    expect(await l.admit('104', 'new2', 2, 100, now + 70_000)).toBe('concurrency');
  });

  it('max 0 refuses everything', async () => {
    const l = createLimits(redis, { timeZone: tz });
    expect(await l.admit('105', 'a', 0, 10)).toBe('concurrency');
    expect(await l.admit('105', 'a', 10, 0)).toBe('cps');
  });

  it('daily spend accumulates per day of the service zone', async () => {
    const l = createLimits(redis, { timeZone: tz });
    const at = Date.parse('2026-11-24T15:59:00Z'); // 23:59 in Shanghai
    await l.addSpend('106', 130n, at);
    await l.addSpend('106', 70n, at);
    await l.addSpend('106', 0n, at);
    expect(await l.spentToday('106', at)).toBe(200n);
    expect(await l.spentToday('106', at + 120_000)).toBe(0n); // 00:01 next day there
    expect(dayKey(at, tz)).toBe('2026-11-24');
    expect(dayKey(at + 120_000, tz)).toBe('2026-11-25');
  });
});
