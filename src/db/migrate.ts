/**
 * Versioned migrations: src/db/migrations/NNN_name.sql, applied in order, each in its own transaction,
 * recorded in schema_migrations with a checksum. Re-running is a no-op; an edited applied migration is an error.
 * Each transaction takes a transaction-scoped advisory lock first, so concurrent starts are safe, also through
 * PgBouncer in transaction pooling mode.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { projectPath } from '../util/paths.js';
import { withTransaction } from './tx.js';

const MIGRATION_LOCK = 7_201_771_001;

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export function listMigrations(dir = projectPath('src', 'db', 'migrations')): { version: string; file: string; sql: string; checksum: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return { version: file.slice(0, 3), file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export async function migrate(pool: pg.Pool): Promise<MigrationResult> {
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  await inLockedTx(pool, (c) => c.query(`create table if not exists schema_migrations (
    version text primary key, file text not null, checksum text not null, applied_at timestamptz not null default now())`));
  for (const m of listMigrations()) {
    const prior = await inLockedTx(pool, async (c) => {
      const done = await c.query<{ checksum: string }>('select checksum from schema_migrations where version = $1', [m.version]);
      if (done.rows[0]) return done.rows[0].checksum;
      try {
        await c.query(m.sql);
      } catch (e) {
        throw new Error(`migration ${m.file} failed: ${(e as Error).message}`);
      }
      await c.query('insert into schema_migrations (version, file, checksum) values ($1, $2, $3)', [m.version, m.file, m.checksum]);
      return null;
    });
    if (prior === null) result.applied.push(m.file);
    else if (prior !== m.checksum) throw new Error(`migration ${m.file} was changed after it was applied (checksum differs); add a new migration instead`);
    else result.alreadyApplied.push(m.file);
  }
  return result;
}

/**
 * One transaction holding the migration lock. The lock is transaction-scoped on purpose: concurrent starts wait for
 * each other, and it holds through PgBouncer in transaction pooling, where a session lock would stay on whichever
 * server connection took it (and block every later start).
 */
function inLockedTx<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (c) => {
    await c.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    return fn(c);
  });
}
