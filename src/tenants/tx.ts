/** Run fn in a transaction: a Pool gets its own; a PoolClient is taken to be inside the caller's transaction. */
import pg from 'pg';
import { withTransaction } from '../db/pool.js';
import type { Queryable } from '../ledger/ledger.js';

export async function inTransaction<T>(db: Queryable, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return db instanceof pg.Pool ? withTransaction(db, fn) : fn(db);
}
