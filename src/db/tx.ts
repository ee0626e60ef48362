/**
 * The one way to run SQL inside a transaction. Every store function takes a Queryable: a Pool (each statement on
 * its own, or a transaction of its own where a function needs one) or a PoolClient (its statements run inside the
 * caller's transaction).
 */
import pg from 'pg';

export type Queryable = pg.Pool | pg.PoolClient;

/** Run fn in a transaction of its own; rolls back on throw. */
export function withTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return onClient(pool, 'begin', fn);
}

/** Run fn in a transaction: a Pool gets its own; a PoolClient is taken to be inside the caller's transaction. */
export async function inTransaction<T>(db: Queryable, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return db instanceof pg.Pool ? withTransaction(db, fn) : fn(db);
}

/** Run fn in one read-only repeatable-read transaction, so every statement of fn reads the same snapshot. */
export function withSnapshot<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return onClient(pool, 'begin isolation level repeatable read read only', fn);
}

/** A pooled client for fn inside the transaction `begin` starts: committed after fn, rolled back on throw. */
async function onClient<T>(pool: pg.Pool, begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await inClientTransaction(c, begin, fn);
  } finally {
    c.release();
  }
}

async function inClientTransaction<T>(c: pg.PoolClient, begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  await c.query(begin);
  try {
    const out = await fn(c);
    await c.query('commit');
    return out;
  } catch (e) {
    await c.query('rollback').catch(() => undefined);
    throw e;
  }
}

/**
 * Run fn all or nothing. A Pool: a transaction of its own. A PoolClient inside the caller's transaction: behind a
 * savepoint, so a throw rolls back fn's statements only and the caller's transaction stays usable. A PoolClient
 * outside a transaction: a transaction of its own on it.
 */
export async function atomically<T>(db: Queryable, savepoint: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  if (db instanceof pg.Pool) return withTransaction(db, fn);
  try {
    await db.query(`savepoint ${savepoint}`);
  } catch (e) {
    // 25P01: the client is not in a transaction: make one, so fn stays all-or-nothing.
    if ((e as { code?: string }).code !== '25P01') throw e;
    return inClientTransaction(db, 'begin', fn);
  }
  try {
    const out = await fn(db);
    await db.query(`release savepoint ${savepoint}`);
    return out;
  } catch (e) {
    await db.query(`rollback to savepoint ${savepoint}`).catch(() => undefined);
    throw e;
  }
}
