import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../../src/sip/directory.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';

let db: TestDb;
let trunkId: string;
let tenantId: string;
beforeAll(async () => {
  db = await createTestDb();
  trunkId = (await db.pool.query<{ id: bigint }>(`insert into ingress_trunks (name, address, failure_policy) values ('ccc-a', '10.0.0.5', 'terminate') returning id`)).rows[0]!.id.toString();
  await db.pool.query(`insert into ingress_trunks (name, address, failure_policy) values ('ccc-net', '10.1.0.0/24', 'continue')`);
  await db.pool.query(`insert into ingress_trunks (name, address, enabled) values ('off', '10.2.0.1', false)`);
  tenantId = (await db.pool.query<{ id: bigint }>(`insert into tenants (code, legal_name, blocked_prefixes, calling_hours_from, calling_hours_to, daily_spend_cap_fen)
                       values ('acme', 'ACME Ltd', '{86168}', '09:00', '18:00', 5000) returning id`)).rows[0]!.id.toString();
  await db.pool.query(`insert into numbers (e164, tenant_id, state) values ('+8657188886666', $1, 'approved'), ('+8657100000000', null, 'pending_review')`, [tenantId]);
  await db.pool.query(`insert into carrier_gateways (name, host, port, priority, weight) values ('gw2', '10.0.0.10', 5060, 20, 100), ('gw1', '10.0.0.9', 5070, 10, 50)`);
  await db.pool.query(`insert into carrier_gateways (name, host, enabled) values ('gwoff', '10.0.0.11', false)`);
});
afterAll(async () => {
  await db.drop();
});

describe('directory (PostgreSQL + TTL cache)', () => {
  it('trunks by exact address and by network; disabled and unknown → null', async () => {
    const d = createDirectory(db.pool);
    expect(await d.trunkForAddress('10.0.0.5')).toEqual({ id: trunkId, name: 'ccc-a', failurePolicy: 'terminate' });
    expect((await d.trunkForAddress('10.1.0.77'))?.name).toBe('ccc-net');
    expect(await d.trunkForAddress('10.2.0.1')).toBeNull();
    expect(await d.trunkForAddress('8.8.8.8')).toBeNull();
    expect(await d.trunkForAddress('not-an-ip')).toBeNull();
  });

  it('number owner with the tenant limits', async () => {
    const d = createDirectory(db.pool);
    const o = await d.numberOwner('+8657188886666');
    expect(o?.state).toBe('approved');
    expect(o?.tenant).toMatchObject({
      id: tenantId, code: 'acme', status: 'active', blockedPrefixes: ['86168'], callingHoursFrom: '09:00:00', callingHoursTo: '18:00:00',
      dailySpendCapFen: 5000n, maxConcurrent: 30, maxCps: 10, allowInternational: false,
    });
    expect(await d.numberOwner('+8657100000000')).toEqual({ e164: '+8657100000000', state: 'pending_review', tenant: null });
    expect(await d.numberOwner('+8600000000000')).toBeNull();
  });

  it('enabled gateways in priority order', async () => {
    const d = createDirectory(db.pool);
    expect((await d.gateways()).map((g) => [g.name, g.port, g.numberFormat])).toEqual([['gw1', 5070, 'national'], ['gw2', 5060, 'national']]);
  });

  it('serves from cache within the TTL, reloads after it or after invalidateTenant (injected clock)', async () => {
    let now = 1_000_000;
    const d = createDirectory(db.pool, { ttlMs: 5000, now: () => now });
    expect((await d.numberOwner('+8657188886666'))?.tenant?.status).toBe('active');
    await db.pool.query(`update tenants set status = 'suspended' where id = $1`, [tenantId]);
    expect((await d.numberOwner('+8657188886666'))?.tenant?.status).toBe('active'); // cached
    d.invalidateTenant(tenantId);
    expect((await d.numberOwner('+8657188886666'))?.tenant?.status).toBe('suspended');
    await db.pool.query(`update tenants set status = 'active' where id = $1`, [tenantId]);
    now += 5001;
    expect((await d.numberOwner('+8657188886666'))?.tenant?.status).toBe('active');
  });
});

describe('directory cache bound', () => {
  it('keeps at most maxEntries per cache however many distinct sources and numbers are looked up', async () => {
    const d = createDirectory(db.pool, { ttlMs: 60_000, maxEntries: 50 });
    for (let i = 0; i < 200; i++) {
      await d.trunkForAddress(`198.51.100.${i}`);
      await d.numberOwner(`+86571000${String(i).padStart(5, '0')}`);
    }
    expect(d.cached()).toEqual({ trunks: 50, numbers: 50 });
    // the newest entries are the ones kept, and still answer right
    expect(await d.trunkForAddress('10.0.0.5')).toMatchObject({ name: 'ccc-a' });
    expect(d.cached().trunks).toBe(50);
  });
});
