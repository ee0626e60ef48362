import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit, recordAudit } from '../../src/store/audit.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

describe('audit log', () => {
  it('records who did what with before/after (bigint as text), newest first, filtered by tenant', async () => {
    const { rows } = await db.pool.query<{ id: bigint }>(
      `insert into tenants (code, legal_name) values ('aud', 'Audit Test Co., Ltd.') returning id`,
    );
    const tenantId = rows[0]!.id;
    await recordAudit(db.pool, {
      actor: { kind: 'operator', id: 'token:7' }, action: 'tenant.suspend', targetType: 'tenant', targetId: tenantId,
      tenantId, before: { status: 'active' }, after: { status: 'suspended', fen: 12n },
    });
    await recordAudit(db.pool, { actor: { kind: 'cli', id: 'root' }, action: 'gateway.add', targetType: 'gateway', targetId: 'gw1' });
    const all = await listAudit(db.pool);
    expect(all.map((r) => r.action)).toEqual(['gateway.add', 'tenant.suspend']);
    const mine = await listAudit(db.pool, { tenantId });
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      actorKind: 'operator', actorId: 'token:7', targetId: String(tenantId),
      before: { status: 'active' }, after: { status: 'suspended', fen: '12' },
    });
  });

  it('is append-only: UPDATE and DELETE are refused', async () => {
    await expect(db.pool.query(`update audit_log set action = 'x'`)).rejects.toThrow(/immutable/);
    await expect(db.pool.query(`delete from audit_log`)).rejects.toThrow(/immutable/);
  });

  it('refuses an action name outside the pattern', async () => {
    await expect(
      recordAudit(db.pool, { actor: { kind: 'cli', id: 'root' }, action: 'Bad Action!', targetType: 'tenant' }),
    ).rejects.toThrow(/audit_log_action_check|check constraint/);
  });
});
