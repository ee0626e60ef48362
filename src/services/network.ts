/**
 * Ingress trunks (call-center source addresses we accept INVITEs from: an address, any source port, see migration
 * 021) and carrier gateways (where calls go).
 */
import { recordAudit } from '../audit/audit.js';
import type { Gateway as DirectoryGateway } from '../sip/directory.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, tx } from './common.js';
import { ConflictError, InputError, NotFoundError } from './errors.js';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export interface Trunk {
  name: string;
  address: string;
  failurePolicy: 'terminate' | 'continue';
  enabled: boolean;
}

/** A gateway as the SIP directory routes to it, plus whether it is enabled. */
export interface Gateway extends Omit<DirectoryGateway, 'id'> {
  enabled: boolean;
}

const TRUNK_COLS = `name, host(address) as address, failure_policy as "failurePolicy", enabled`;
const GATEWAY_COLS = `name, host, port, transport, priority, weight, number_format as "numberFormat", enabled`;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new InputError('name', 'use 1-63 of a-z 0-9 _ . -, starting with a letter or digit');
  return name;
}

function intIn(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new InputError(field, `an integer from ${min} to ${max}`);
  return v;
}

/** Run an insert; PostgreSQL's refusals become clear errors (a duplicate name is a conflict). */
async function insert<T>(what: string, field: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === '23505') throw new ConflictError(`${what} already exists`);
    if (code === '22P02' || code === '23514') throw new InputError(field, (e as Error).message);
    throw e;
  }
}

export async function listTrunks(deps: ServiceDeps, actor: Actor): Promise<Trunk[]> {
  requireStaff(actor, 'trunks');
  return (await deps.pool.query<Trunk>(`select ${TRUNK_COLS} from ingress_trunks order by name`)).rows;
}

export async function addTrunk(
  deps: ServiceDeps, actor: Actor, input: { name: string; address: string; failurePolicy?: 'terminate' | 'continue' },
): Promise<Trunk> {
  requireWriter(actor, 'adding a trunk');
  const name = checkName(input.name);
  return tx(deps, async (c) => {
    const t = (await insert(`trunk ${name}`, 'address', () => c.query<Trunk>(
      `insert into ingress_trunks (name, address, failure_policy) values ($1, $2, $3) returning ${TRUNK_COLS}`,
      [name, input.address, input.failurePolicy ?? 'terminate'],
    ))).rows[0]!;
    await recordAudit(c, { actor, action: 'trunk.add', targetType: 'trunk', targetId: name, after: t });
    return t;
  });
}

export async function listGateways(deps: ServiceDeps, actor: Actor): Promise<Gateway[]> {
  requireStaff(actor, 'gateways');
  return (await deps.pool.query<Gateway>(`select ${GATEWAY_COLS} from carrier_gateways order by priority, name`)).rows;
}

export async function addGateway(
  deps: ServiceDeps, actor: Actor,
  input: { name: string; host: string; port?: number; transport?: Gateway['transport']; priority?: number; weight?: number; numberFormat?: Gateway['numberFormat']; enabled?: boolean },
): Promise<Gateway> {
  requireWriter(actor, 'adding a gateway');
  const name = checkName(input.name);
  if (!/^[A-Za-z0-9.\-:[\]]{1,253}$/.test(input.host)) throw new InputError('host', `${JSON.stringify(input.host)} is not a host name or IP`);
  const port = intIn('port', input.port ?? 5060, 1, 65535);
  const priority = intIn('priority', input.priority ?? 10, 0, 1000);
  const weight = intIn('weight', input.weight ?? 100, 1, 10_000);
  return tx(deps, async (c) => {
    const g = (await insert(`gateway ${name}`, 'host', () => c.query<Gateway>(
      `insert into carrier_gateways (name, host, port, transport, priority, weight, number_format, enabled)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${GATEWAY_COLS}`,
      [name, input.host, port, input.transport ?? 'udp', priority, weight, input.numberFormat ?? 'national', input.enabled ?? true],
    ))).rows[0]!;
    await recordAudit(c, { actor, action: 'gateway.add', targetType: 'gateway', targetId: name, after: g });
    return g;
  });
}

const SWITCHABLE = {
  trunk: { table: 'ingress_trunks', cols: TRUNK_COLS },
  gateway: { table: 'carrier_gateways', cols: GATEWAY_COLS },
} as const;

/** Enable or disable a trunk or a gateway, audited with the state before. */
async function setEnabled<T>(deps: ServiceDeps, actor: Actor, kind: keyof typeof SWITCHABLE, name: string, enabled: boolean): Promise<T> {
  requireWriter(actor, `enabling or disabling a ${kind}`);
  const { table, cols } = SWITCHABLE[kind];
  return tx(deps, async (c) => {
    const cur = (await c.query<{ enabled: boolean }>(`select enabled from ${table} where name = $1 for update`, [name])).rows[0];
    if (!cur) throw new NotFoundError(`no ${kind} ${JSON.stringify(name)}`);
    const r = await c.query<T & object>(`update ${table} set enabled = $2 where name = $1 returning ${cols}`, [name, enabled]);
    await recordAudit(c, { actor, action: `${kind}.${enabled ? 'enable' : 'disable'}`, targetType: kind, targetId: name, before: { enabled: cur.enabled }, after: { enabled } });
    return r.rows[0]!;
  });
}

export const enableTrunk = (deps: ServiceDeps, actor: Actor, name: string, enabled: boolean): Promise<Trunk> => setEnabled<Trunk>(deps, actor, 'trunk', name, enabled);
export const enableGateway = (deps: ServiceDeps, actor: Actor, name: string, enabled: boolean): Promise<Gateway> => setEnabled<Gateway>(deps, actor, 'gateway', name, enabled);
