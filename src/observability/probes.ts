/**
 * Ready-made readiness probes: the stores, and drachtio from the events of the app's srf connection. The outbox consumer registers its own: readiness.add('outbox', () => consumer.alive()).
 */
import { ping } from '../db/pool.js';

interface Pingable {
  ping(): Promise<string>;
}

/** Redis is up when PING answers PONG. */
export function redisProbe(redis: Pingable): () => Promise<boolean> {
  return async () => (await redis.ping()) === 'PONG';
}

/**
 * PostgreSQL is up when a trivial query runs (a pooled connection can be had and used). However often /readyz and
 * /metrics are hit, the database sees at most one probe query per `minIntervalMs`: callers within that time share
 * the last answer (or the query in flight), so a scrape storm or a load balancer cannot load the system of record.
 */
export function postgresProbe(db: Parameters<typeof ping>[0], minIntervalMs = 1000): () => Promise<boolean> {
  let last: { at: number; result: Promise<boolean> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < minIntervalMs) return last.result;
    const result = ping(db).then(() => true);
    result.catch(() => undefined); // shared callers handle it; never an unhandled rejection
    last = { at: now, result };
    return result;
  };
}

/** The connection events of a drachtio-srf instance (its `connect` carries an error when authentication failed). */
interface SrfConnection {
  on(event: 'connect', fn: (err?: unknown) => void): unknown;
  on(event: 'close' | 'reconnecting', fn: () => void): unknown;
}

/**
 * drachtio is up while this srf is connected: from a successful connect (the srf given here is, see connectSrf)
 * until it closes or starts reconnecting, and again after it reconnects.
 */
export function drachtioProbe(srf: SrfConnection, connected = true): () => boolean {
  let up = connected;
  srf.on('connect', (err?: unknown) => (up = !err));
  srf.on('close', () => (up = false));
  srf.on('reconnecting', () => (up = false));
  return () => up;
}
