/**
 * SQL of ingress trunks (call-center source addresses, any source port: migration 021) and carrier gateways, as
 * operators manage them, and the SIP source allow-list read from them (with its change notifications, migration 030).
 */
import type { Pool, PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';
import type { Gateway } from './directory.js';

export interface Trunk {
  name: string;
  address: string;
  failurePolicy: 'terminate' | 'continue';
  enabled: boolean;
}

/** A gateway as the SIP directory routes to it, plus whether it is enabled. */
export interface GatewayRecord extends Omit<Gateway, 'id'> {
  enabled: boolean;
}

const TRUNK_COLS = `name, host(address) as address, failure_policy as "failurePolicy", enabled`;
const GATEWAY_COLS = `name, host, port, transport, priority, weight, number_format as "numberFormat", enabled`;

export async function listTrunks(db: Queryable): Promise<Trunk[]> {
  return (await db.query<Trunk>(`select ${TRUNK_COLS} from ingress_trunks order by name`)).rows;
}

/** Insert a trunk; PostgreSQL's refusals (23505 duplicate name, 22P02 bad address) are thrown as they are. */
export async function insertTrunk(db: Queryable, t: { name: string; address: string; failurePolicy: Trunk['failurePolicy'] }): Promise<Trunk> {
  return (await db.query<Trunk>(
    `insert into ingress_trunks (name, address, failure_policy) values ($1, $2, $3) returning ${TRUNK_COLS}`,
    [t.name, t.address, t.failurePolicy],
  )).rows[0]!;
}

export async function listGateways(db: Queryable): Promise<GatewayRecord[]> {
  return (await db.query<GatewayRecord>(`select ${GATEWAY_COLS} from carrier_gateways order by priority, name`)).rows;
}

/** Insert a gateway; PostgreSQL's refusals (23505 duplicate name, 23514 a check) are thrown as they are. */
export async function insertGateway(db: Queryable, g: GatewayRecord): Promise<GatewayRecord> {
  return (await db.query<GatewayRecord>(
    `insert into carrier_gateways (name, host, port, transport, priority, weight, number_format, enabled)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${GATEWAY_COLS}`,
    [g.name, g.host, g.port, g.transport, g.priority, g.weight, g.numberFormat, g.enabled],
  )).rows[0]!;
}

const SWITCHABLE = {
  trunk: { table: 'ingress_trunks', cols: TRUNK_COLS },
  gateway: { table: 'carrier_gateways', cols: GATEWAY_COLS },
} as const;

/** Whether a trunk or gateway is enabled, its row locked until the caller's transaction ends; null when none. */
export async function enabledForUpdate(c: Queryable, kind: keyof typeof SWITCHABLE, name: string): Promise<boolean | null> {
  return (await c.query<{ enabled: boolean }>(`select enabled from ${SWITCHABLE[kind].table} where name = $1 for update`, [name])).rows[0]?.enabled ?? null;
}

export async function setEnabled<T extends Trunk | GatewayRecord>(c: Queryable, kind: keyof typeof SWITCHABLE, name: string, enabled: boolean): Promise<T> {
  const { table, cols } = SWITCHABLE[kind];
  return (await c.query<T>(`update ${table} set enabled = $2 where name = $1 returning ${cols}`, [name, enabled])).rows[0]!;
}

/** Names of the enabled carrier gateways: a carrier outage is all of them down at once. */
export async function enabledGatewayNames(db: Queryable): Promise<string[]> {
  return (await db.query<{ name: string }>('select name from carrier_gateways where enabled order by name')).rows.map((r) => r.name);
}

/** The demo trunk and gateway on 127.0.0.1 when missing (never overwrites). */
export async function ensureDemoNetwork(pool: Pool): Promise<void> {
  await pool.query(`insert into ingress_trunks (name, address) values ('ccc-local', '127.0.0.1') on conflict (name) do nothing`);
  await pool.query(`insert into carrier_gateways (name, host, port, transport) values ('carrier-local', '127.0.0.1', 5070, 'udp') on conflict (name) do nothing`);
}

/** The enabled trunks' addresses (host or CIDR), for the SIP source allow-list. */
export async function trunkSources(pool: Pool): Promise<string[]> {
  return (await pool.query<{ a: string }>(
    `select text(network(address)) as a from ingress_trunks where enabled order by 1`)).rows.map((r) => r.a);
}

/** The enabled gateways' hosts (names or addresses), for the SIP source allow-list. */
export async function gatewaySources(pool: Pool): Promise<string[]> {
  return (await pool.query<{ h: string }>(
    `select distinct host as h from carrier_gateways where enabled order by 1`)).rows.map((r) => r.h);
}

/** The channel a trunk or gateway change is notified on (migration 030). */
const SOURCES_CHANNEL = 'sip_sources';

/** Start (true) or stop (false) receiving source change notifications on this client. */
export async function listenSources(c: PoolClient, on: boolean): Promise<void> {
  await c.query(`${on ? 'listen' : 'unlisten'} ${SOURCES_CHANNEL}`);
}
