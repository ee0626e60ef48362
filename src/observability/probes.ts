/**
 * Ready-made readiness probes for the stores. drachtio and the outbox consumer register their own probes
 * (their owners know their state): readiness.add('drachtio', () => srfConnected), readiness.add('outbox', () => consumer.alive()).
 */
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
