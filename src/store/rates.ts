/** SQL of rate plans and their decks (rate_plans, rate_deck_entries): import, export, the plan list, the rater's load. */
import type { Pool } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';
import type { RateEntry } from '../rating/deck.js';
import type { RateRow } from '../rates-import/validate.js';

export async function ratePlanIdByName(db: Queryable, name: string, opts: { forUpdate?: boolean } = {}): Promise<bigint | null> {
  const sql = opts.forUpdate ? 'select id from rate_plans where name = $1 for update' : 'select id from rate_plans where name = $1';
  return (await db.query<{ id: bigint }>(sql, [name])).rows[0]?.id ?? null;
}

export async function insertRatePlan(db: Queryable, name: string): Promise<bigint> {
  return (await db.query<{ id: bigint }>('insert into rate_plans (name) values ($1) returning id', [name])).rows[0]!.id;
}

/** The plan's name by id, or null. */
export async function ratePlanName(db: Queryable, ratePlanId: bigint): Promise<string | null> {
  return (await db.query<{ name: string }>('select name from rate_plans where id = $1', [ratePlanId.toString()])).rows[0]?.name ?? null;
}

/** Every plan with its entry and tenant counts, by name. */
export async function ratePlansWithCounts(db: Queryable): Promise<{ id: bigint; name: string; entries: number; tenants: number }[]> {
  const r = await db.query<{ id: bigint; name: string; entries: bigint; tenants: bigint }>(
    `select p.id, p.name, (select count(*) from rate_deck_entries e where e.rate_plan_id = p.id) as entries,
            (select count(*) from tenants t where t.rate_plan_id = p.id) as tenants
       from rate_plans p order by p.name`,
  );
  return r.rows.map((x) => ({ id: x.id, name: x.name, entries: Number(x.entries), tenants: Number(x.tenants) }));
}

/** Remove a plan's whole deck; returns how many entries went. */
export async function deleteDeck(c: Queryable, ratePlanId: bigint): Promise<number> {
  return (await c.query('delete from rate_deck_entries where rate_plan_id = $1', [ratePlanId.toString()])).rowCount ?? 0;
}

/** Insert (or replace, by prefix and effective_from) deck entries of a plan in one statement. */
export async function upsertDeckEntries(c: Queryable, ratePlanId: bigint, batch: RateRow[]): Promise<void> {
  await c.query(
    `insert into rate_deck_entries (rate_plan_id, prefix, destination, price_per_minute, initial_increment, subsequent_increment,
                                    connect_fee, minimum_seconds, effective_from, effective_to)
     select $1, * from unnest($2::text[], $3::text[], $4::numeric[], $5::int[], $6::int[], $7::numeric[], $8::int[], $9::timestamptz[], $10::timestamptz[])
     on conflict (rate_plan_id, prefix, effective_from) do update set destination = excluded.destination,
       price_per_minute = excluded.price_per_minute, initial_increment = excluded.initial_increment,
       subsequent_increment = excluded.subsequent_increment, connect_fee = excluded.connect_fee,
       minimum_seconds = excluded.minimum_seconds, effective_to = excluded.effective_to`,
    [ratePlanId.toString(), batch.map((r) => r.prefix), batch.map((r) => r.destination), batch.map((r) => r.pricePerMinute),
     batch.map((r) => r.initialIncrement), batch.map((r) => r.subsequentIncrement), batch.map((r) => r.connectFee),
     batch.map((r) => r.minimumSeconds), batch.map((r) => r.effectiveFrom), batch.map((r) => r.effectiveTo)],
  );
}

/** At most 5000 entries of a plan after (prefix, effective_from) `after`, in that order (export pages). */
export async function deckPage(db: Queryable, ratePlanId: bigint, after: [string, Date | string]): Promise<RateRow[]> {
  const { rows } = await db.query<{ prefix: string; destination: string; price_per_minute: string; initial_increment: number; subsequent_increment: number;
    connect_fee: string; minimum_seconds: number; effective_from: Date; effective_to: Date | null }>(
    `select prefix, destination, price_per_minute, initial_increment, subsequent_increment, connect_fee, minimum_seconds, effective_from, effective_to
       from rate_deck_entries where rate_plan_id = $1 and (prefix, effective_from) > ($2, $3)
      order by prefix, effective_from limit 5000`,
    [ratePlanId.toString(), after[0], after[1]],
  );
  return rows.map((r) => ({
    prefix: r.prefix, destination: r.destination, pricePerMinute: r.price_per_minute, initialIncrement: r.initial_increment,
    subsequentIncrement: r.subsequent_increment, connectFee: r.connect_fee, minimumSeconds: r.minimum_seconds, effectiveFrom: r.effective_from, effectiveTo: r.effective_to,
  }));
}

/** Every entry of a plan as the rater holds it (src/charging/rate-cache.ts): one query per deck load. */
export async function deckEntries(pool: Pool, ratePlanId: string): Promise<RateEntry[]> {
  const r = await pool.query<{
    prefix: string; destination: string; price_per_minute: string; initial_increment: number; subsequent_increment: number;
    connect_fee: string; minimum_seconds: number; effective_from: Date; effective_to: Date | null;
  }>(
    `select prefix, destination, price_per_minute, initial_increment, subsequent_increment, connect_fee, minimum_seconds,
            effective_from, effective_to from rate_deck_entries where rate_plan_id = $1`, [ratePlanId]);
  return r.rows.map((x) => ({
    ratePlanId, prefix: x.prefix, destination: x.destination, pricePerMinute: x.price_per_minute,
    initialIncrement: x.initial_increment, subsequentIncrement: x.subsequent_increment, connectFee: x.connect_fee,
    minimumSeconds: x.minimum_seconds, effectiveFrom: x.effective_from.getTime(), effectiveTo: x.effective_to ? x.effective_to.getTime() : null,
  }));
}

/** The demo deck: the plan and its entries when missing (never overwrites). */
export async function ensureDemoDeck(pool: Pool, plan: string, deck: readonly (readonly [string, string, string])[]): Promise<void> {
  await pool.query(`insert into rate_plans (name) values ($1) on conflict (name) do nothing`, [plan]);
  await pool.query(
    `insert into rate_deck_entries (rate_plan_id, prefix, destination, price_per_minute, initial_increment, subsequent_increment)
     select p.id, d.prefix, d.destination, d.price::numeric, 1, 1
       from rate_plans p, unnest($2::text[], $3::text[], $4::text[]) as d(prefix, destination, price)
      where p.name = $1
     on conflict (rate_plan_id, prefix, effective_from) do nothing`,
    [plan, deck.map((d) => d[0]), deck.map((d) => d[1]), deck.map((d) => d[2])],
  );
}
