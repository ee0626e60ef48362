/** PostgreSQL pool. bigint (int8) columns come back as JS bigint, numeric as string: never as float. */
import pg from 'pg';

pg.types.setTypeParser(pg.types.builtins.INT8, (v) => BigInt(v));
// numeric stays a string (pg default) and is parsed with decimal.js where it is used.

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // pg-pool listens for errors only while a client is idle: one checked out (a transaction between two queries, a
  // LISTEN) whose connection dies emits 'error' with no listener, an uncaught exception that ends the process (seen
  // when a test stopped PostgreSQL under the outbox consumer). Its next query fails, and that caller handles it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A trivial query: resolves when a connection can be had and used (the readiness probe; any pool or client). */
export async function ping(db: { query(sql: string): Promise<unknown> }): Promise<void> {
  await db.query('select 1');
}
