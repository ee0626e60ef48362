/**
 * Versioned migrations: src/db/migrations/NNN_name.sql, applied in order, each in its own transaction,
 * recorded in schema_migrations with a checksum. Re-running is a no-op; an edited applied migration is an error.
 * A transaction-scoped advisory lock makes concurrent starts safe.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { projectPath } from '../util/paths.js';

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
  const c = await pool.connect();
  try {
    await c.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await c.query(`create table if not exists schema_migrations (
      version text primary key, file text not null, checksum text not null, applied_at timestamptz not null default now())`);
    const done = new Map<string, string>(
      (await c.query<{ version: string; checksum: string }>('select version, checksum from schema_migrations')).rows.map((r) => [r.version, r.checksum]),
    );
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const m of listMigrations()) {
      const prior = done.get(m.version);
      if (prior !== undefined) {
        if (prior !== m.checksum) throw new Error(`migration ${m.file} was changed after it was applied (checksum differs); add a new migration instead`);
        result.alreadyApplied.push(m.file);
        continue;
      }
      await c.query('begin');
      try {
        await c.query(m.sql);
        await c.query('insert into schema_migrations (version, file, checksum) values ($1, $2, $3)', [m.version, m.file, m.checksum]);
        await c.query('commit');
      } catch (e) {
        await c.query('rollback');
        throw new Error(`migration ${m.file} failed: ${(e as Error).message}`);
      }
      result.applied.push(m.file);
    }
    return result;
  } finally {
    await c.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    c.release();
  }
}
