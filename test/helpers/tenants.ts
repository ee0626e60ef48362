/**
 * A test tenant in one call: holding `number` (approved), its own rate plan with `pricePerMinute` for prefix 86, a
 * paid top-up through the ledger, loaded into Redis. Used by the e2e harness, the cluster tests and the benchmarks.
 */
import { loadTenant } from '../../src/charging/tenant-sync.js';
import type { ChargingRedis } from '../../src/charging/redis.js';
import type { Pool } from '../../src/db/pool.js';
import { creditedBucket } from './ledger.js';

export interface TenantSeed { code: string; number: string; balanceFen: bigint; pricePerMinute?: string; maxConcurrent?: number; maxCps?: number }

/**
 * maxCps defaults to 100, ten times what the harness's sipp offers (-r 10): on a loaded machine sipp catches up in
 * bursts, and a limit equal to the offered rate turned one call of a 20-call test into 503 "limit". Tests of the
 * CPS limit set it themselves.
 */
export async function seedTenant(pool: Pool, redis: ChargingRedis, o: TenantSeed): Promise<string> {
  const plan = await pool.query<{ id: bigint }>('insert into rate_plans (name) values ($1) returning id', [`plan-${o.code}`]);
  const planId = plan.rows[0]!.id;
  await pool.query(`insert into rate_deck_entries (rate_plan_id, prefix, price_per_minute) values ($1, '86', $2)`, [planId, o.pricePerMinute ?? '6']);
  const t = await pool.query<{ id: bigint }>(
    `insert into tenants (code, legal_name, rate_plan_id, max_concurrent, max_cps) values ($1, $2, $3, $4, $5) returning id`,
    [o.code, `Tenant ${o.code}`, planId, o.maxConcurrent ?? 30, o.maxCps ?? 100],
  );
  const tenantId = t.rows[0]!.id;
  await pool.query(`insert into numbers (e164, tenant_id, state) values ($1, $2, 'approved')`, [o.number, tenantId]);
  if (o.balanceFen > 0n) await creditedBucket(pool, tenantId, 'paid', o.balanceFen, { keyPrefix: 'e2e-topup' });
  await loadTenant(pool, redis, tenantId.toString());
  return tenantId.toString();
}
