/**
 * Test fixtures of the charging tests: a tenant with a rate plan, and buckets credited through the real ledger.
 */
import type { Pool } from '../../src/db/pool.js';
import { creditedBucket } from '../helpers/ledger.js';

export interface DeckRow { prefix: string; price: string; init?: number; sub?: number; connectFee?: string; minimum?: number; from?: Date; to?: Date | null }

export async function createPlan(pool: Pool, name: string, rows: DeckRow[]): Promise<string> {
  const p = await pool.query<{ id: bigint }>('insert into rate_plans (name) values ($1) returning id', [name]);
  const id = p.rows[0]!.id.toString();
  for (const r of rows) {
    await pool.query(
      `insert into rate_deck_entries (rate_plan_id, prefix, price_per_minute, initial_increment, subsequent_increment,
         connect_fee, minimum_seconds, effective_from, effective_to) values ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
      [id, r.prefix, r.price, r.init ?? 1, r.sub ?? 1, r.connectFee ?? '0', r.minimum ?? 0, r.from ?? new Date(0), r.to ?? null],
    );
  }
  return id;
}

export async function createTenant(pool: Pool, code: string, ratePlanId: string | null, opts: { status?: string; start?: Date | null; end?: Date | null } = {}): Promise<string> {
  const t = await pool.query<{ id: bigint }>(
    `insert into tenants (code, legal_name, status, service_start, service_end, rate_plan_id) values ($1,$2,$3,$4,$5,$6) returning id`,
    [code, `Tenant ${code}`, opts.status ?? 'active', opts.start ?? null, opts.end ?? null, ratePlanId],
  );
  return t.rows[0]!.id.toString();
}

/** A bucket credited with amountFen through the real ledger; returns ids as strings. */
export async function createBucket(pool: Pool, tenantId: string, kind: 'paid' | 'gift', amountFen: bigint,
  validFrom = new Date(0), expiresAt: Date | null = null): Promise<{ bucketId: string; transferId: string }> {
  return creditedBucket(pool, tenantId, kind, amountFen, { validFrom, expiresAt, keyPrefix: 'fixture' });
}
