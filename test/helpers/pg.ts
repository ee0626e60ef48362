/**
 * A fresh PostgreSQL database per test file, migrated, dropped afterwards. Uses the shared server
 * (TEST_PG_ADMIN_URL, default the loopback trust-auth server) but never touches a database it did not create.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';

export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDb {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function urlFor(db: string, admin = ADMIN_URL): string {
  const u = new URL(admin);
  u.pathname = '/' + db;
  return u.toString();
}

/** A database of its own; `template`: a copy of that (migrated) database instead, cheaper than migrating again. */
export async function createTestDb(opts: { migrate?: boolean; poolSize?: number; template?: string } = {}): Promise<TestDb> {
  const name = `softswitch_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(opts.template ? `create database ${name} template ${opts.template}` : `create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(name);
  // bounded: test files run in parallel (and several checkouts may run suites at once) on one server whose
  // max_connections scripts/services.sh raises to 400; a pool opens connections only as queries need them
  const pool = createPool(url, opts.poolSize ?? 10);
  if (opts.migrate !== false && !opts.template) await migrate(pool);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
