/**
 * A Redis key prefix per test file on the shared loopback server (TEST_REDIS_URL, default DB 15), and cleanup of
 * exactly the keys under that prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { createChargingRedis, type ChargingRedis, type RedisSettings } from '../../src/charging/redis.js';
import { keyLayout } from '../../src/charging/keys.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

export function testPrefix(): string {
  return `test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  await r.quit();
}

/** Redis settings of a test on the shared server: the configured defaults (standalone, 16 shards) with its prefix. */
export function testRedisSettings(keyPrefix: string, over: Partial<RedisSettings> = {}, url = TEST_REDIS_URL): RedisSettings {
  return { ...loadConfig({}).redis, url, keyPrefix, ...over };
}

/** A charging connection of a test (see testRedisSettings). */
export function testChargingRedis(keyPrefix: string, over: Partial<RedisSettings> = {}, opts: RedisOptions = {}, url = TEST_REDIS_URL): ChargingRedis {
  return createChargingRedis(testRedisSettings(keyPrefix, over, url), opts);
}

/** The key layout of connections made with testRedisSettings (the configured number of shards). */
export const testKeys = keyLayout(loadConfig({}).redis.shards);
