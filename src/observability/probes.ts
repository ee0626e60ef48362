/**
 * Ready-made readiness probes: the stores, and drachtio from the connection gauge the SIP layer keeps
 * (src/sip/connect.ts). The outbox consumer registers its own: readiness.add('outbox', () => consumer.alive()).
 */
import { metrics } from './metrics.js';

export interface Pingable {
  ping(): Promise<string>;
}
export interface Queryable {
  query(sql: string): Promise<unknown>;
}

/** Redis is up when PING answers PONG. */
export function redisProbe(redis: Pingable): () => Promise<boolean> {
  return async () => (await redis.ping()) === 'PONG';
}

/** PostgreSQL is up when a trivial query runs (a pooled connection can be had and used). */
export function postgresProbe(db: Queryable): () => Promise<boolean> {
  return async () => {
    await db.query('select 1');
    return true;
  };
}

/** drachtio is up while softswitch_drachtio_connected is 1 (set on connect, cleared on close/reconnecting). */
export function drachtioProbe(): () => Promise<boolean> {
  return async () => (await metrics.drachtioConnected.get()).values[0]?.value === 1;
}
