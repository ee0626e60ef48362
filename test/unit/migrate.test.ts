import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, listMigrations } from '../../src/db/migrate.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';

describe('migrations', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
  });
  afterAll(async () => db.drop());

  it('apply on an empty database, then re-run as a no-op', async () => {
    const first = await migrate(db.pool);
    expect(first.applied).toEqual(listMigrations().map((m) => m.file));
    const second = await migrate(db.pool);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    const { rows } = await db.pool.query<{ n: string }>("select count(*)::text as n from pg_tables where tablename in ('tenants','ledger_transfers','cdrs','numbers','rate_deck_entries')");
    expect(rows[0]!.n).toBe('5');
  });

  it('concurrent migrators apply each migration once', async () => {
    const other = await createTestDb({ migrate: false });
    try {
      const results = await Promise.all([migrate(other.pool), migrate(other.pool), migrate(other.pool)]);
      const appliedCount = results.reduce((n, r) => n + r.applied.length, 0);
      expect(appliedCount).toBe(listMigrations().length);
    } finally {
      await other.drop();
    }
  });

  it('CDRs and ledger transfers refuse UPDATE and DELETE', async () => {
    await db.pool.query(`insert into cdrs (call_id, invite_at, a_call_id, caller, callee, end_at, sip_status, result)
                         values ('c1', now(), 'a1', '+8657100000000', '13800138000', now(), 200, 'answered')`);
    await expect(db.pool.query(`update cdrs set charge_fen = 1 where call_id = 'c1'`)).rejects.toThrow(/immutable/);
    await expect(db.pool.query(`delete from cdrs where call_id = 'c1'`)).rejects.toThrow(/immutable/);
    const { rows } = await db.pool.query<{ p: string }>(`select tableoid::regclass::text as p from cdrs where call_id = 'c1'`);
    expect(rows[0]!.p).toMatch(/^cdrs_\d{4}_\d{2}$/);
  });
});
