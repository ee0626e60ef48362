/**
 * Test fixtures of the charging tests: a tenant with a rate plan and credited buckets written straight into the
 * schema of record (ledger accounts with posted totals and one credit transfer per bucket), so these tests do not
 * depend on the ledger module's progress.
 */
import type { Pool } from '../../src/db/pool.js';

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

async function account(pool: Pool, code: string, kind: string): Promise<bigint> {
  const r = await pool.query<{ id: bigint }>(
    `insert into ledger_accounts (code, kind) values ($1,$2) on conflict (code) do update set code = excluded.code returning id`, [code, kind]);
  return r.rows[0]!.id;
}

/** A bucket credited with amountFen through a ledger transfer; returns ids as strings. */
export async function createBucket(pool: Pool, tenantId: string, kind: 'paid' | 'gift', amountFen: bigint,
  validFrom = new Date(0), expiresAt: Date | null = null): Promise<{ bucketId: string; transferId: string }> {
  const b = await pool.query<{ id: bigint }>(
    'insert into balance_buckets (tenant_id, kind, valid_from, expires_at) values ($1,$2,$3,$4) returning id', [tenantId, kind, validFrom, expiresAt]);
  const bucketId = b.rows[0]!.id;
  const a = await pool.query<{ id: bigint }>(
    `insert into ledger_accounts (code, kind, tenant_id, bucket_id, must_not_overdraw, credits_posted) values ($1,'tenant_bucket',$2,$3,true,$4) returning id`,
    [`tenant:${tenantId}:bucket:${bucketId}`, tenantId, bucketId, amountFen]);
  const src = await account(pool, kind === 'paid' ? 'cash' : 'gift_funding', kind === 'paid' ? 'cash' : 'gift_funding');
  await pool.query('update ledger_accounts set debits_posted = debits_posted + $1 where id = $2', [amountFen, src]);
  const tr = await pool.query<{ id: bigint }>(
    `insert into ledger_transfers (idempotency_key, debit_account_id, credit_account_id, amount_fen, kind, tenant_id)
     values ($1,$2,$3,$4,$5,$6) returning id`,
    [`fixture:${bucketId}`, src, a.rows[0]!.id, amountFen, kind === 'paid' ? 'top_up' : 'gift', tenantId]);
  return { bucketId: bucketId.toString(), transferId: tr.rows[0]!.id.toString() };
}
