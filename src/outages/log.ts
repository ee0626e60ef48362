/**
 * The carrier outage log in PostgreSQL (migration 013, contract art. 10): gateway down/up periods as the SIP
 * instances' OPTIONS health checks saw them. A change is applied idempotently, so the same change written twice,
 * or by two instances, leaves one period: a down opens a period unless one is open; an up closes the open one.
 */
import type { Queryable } from '../ledger/ledger.js';
import type { GatewayPeriod } from '../billing/outage.js';
import type { GatewayChange } from '../sip/gateways.js';


export async function applyGatewayChange(db: Queryable, c: GatewayChange, instanceId: string): Promise<'opened' | 'closed' | 'unchanged'> {
  if (!c.up) {
    const r = await db.query(
      `insert into gateway_outages (gateway, down_at, down_seen_by) values ($1, $2, $3)
       on conflict (gateway) where up_at is null do nothing`,
      [c.gateway, c.at, instanceId],
    );
    return r.rowCount === 1 ? 'opened' : 'unchanged';
  }
  // an up older than the open period's start (clocks of two instances) leaves it open for a later up to close
  const r = await db.query(
    `update gateway_outages set up_at = $2, up_seen_by = $3 where gateway = $1 and up_at is null and down_at <= $2`,
    [c.gateway, c.at, instanceId],
  );
  return r.rowCount === 1 ? 'closed' : 'unchanged';
}

export interface GatewayOutage extends GatewayPeriod {
  id: bigint;
  downSeenBy: string;
  upSeenBy: string | null;
}

/** Gateway down periods overlapping [from, to) (open ones included), oldest first. */
export async function listGatewayOutages(db: Queryable, range: { from?: Date; to?: Date; gateway?: string } = {}): Promise<GatewayOutage[]> {
  const { rows } = await db.query<{ id: bigint; gateway: string; down_at: Date; up_at: Date | null; down_seen_by: string; up_seen_by: string | null }>(
    `select id, gateway, down_at, up_at, down_seen_by, up_seen_by from gateway_outages
      where ($1::timestamptz is null or up_at is null or up_at > $1)
        and ($2::timestamptz is null or down_at < $2)
        and ($3::text is null or gateway = $3)
      order by down_at, id`,
    [range.from ?? null, range.to ?? null, range.gateway ?? null],
  );
  return rows.map((r) => ({ id: r.id, gateway: r.gateway, from: r.down_at, to: r.up_at, downSeenBy: r.down_seen_by, upSeenBy: r.up_seen_by }));
}

/** Names of the enabled carrier gateways: a carrier outage is all of them down at once. */
export async function enabledGateways(db: Queryable): Promise<string[]> {
  return (await db.query<{ name: string }>('select name from carrier_gateways where enabled order by name')).rows.map((r) => r.name);
}
