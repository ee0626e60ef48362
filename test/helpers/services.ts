/** ServiceDeps for tests: a test database's pool, an optional Redis, a silent logger, a settable clock. */
import type { ChargingRedis } from '../../src/charging/redis.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Pool } from '../../src/db/pool.js';
import type { Actor, ServiceDeps } from '../../src/services/context.js';
import { createLogger } from '../../src/util/logger.js';

export const SYSTEM: Actor = { kind: 'system', id: 'test-setup' };

export function testServices(pool: Pool, opts: { config?: Config; overrides?: Record<string, unknown>; redis?: ChargingRedis | null; now?: () => Date } = {}): ServiceDeps {
  const config = opts.config ?? loadConfig({}, { 'http.host': '127.0.0.1', 'http.port': 0, ...(opts.overrides ?? {}) });
  const redis = opts.redis ?? null;
  return {
    config,
    pool,
    logger: createLogger('silent'),
    redis: async () => (redis ? { redis, error: null } : { redis: null, error: 'no Redis in this test' }),
    now: opts.now ?? (() => new Date()),
  };
}
