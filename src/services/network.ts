/**
 * Ingress trunks (call-center source addresses we accept INVITEs from: an address, any source port, see migration
 * 021) and carrier gateways (where calls go), and the firewall rules admitting SIP only from them.
 */
import { nftablesRules } from '../edge/firewall.js';
import { loadSources } from '../edge/sources-pg.js';
import { recordAudit } from '../store/audit.js';
import {
  enabledForUpdate, insertGateway, insertTrunk, listGateways as selectGateways, listTrunks as selectTrunks, setEnabled as writeEnabled,
  type GatewayRecord, type Trunk,
} from '../store/network.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, tx } from './common.js';
import { ConflictError, InputError, NotFoundError } from './errors.js';

export type Gateway = GatewayRecord;

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

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
  return selectTrunks(deps.pool);
}

export async function addTrunk(
  deps: ServiceDeps, actor: Actor, input: { name: string; address: string; failurePolicy?: 'terminate' | 'continue' },
): Promise<Trunk> {
  requireWriter(actor, 'adding a trunk');
  const name = checkName(input.name);
  return tx(deps, async (c) => {
    const t = await insert(`trunk ${name}`, 'address', () => insertTrunk(c, { name, address: input.address, failurePolicy: input.failurePolicy ?? 'terminate' }));
    await recordAudit(c, { actor, action: 'trunk.add', targetType: 'trunk', targetId: name, after: t });
    return t;
  });
}

export async function listGateways(deps: ServiceDeps, actor: Actor): Promise<Gateway[]> {
  requireStaff(actor, 'gateways');
  return selectGateways(deps.pool);
}

export async function addGateway(
  deps: ServiceDeps, actor: Actor,
  input: { name: string; host: string; port?: number; transport?: Gateway['transport']; priority?: number; weight?: number; numberFormat?: Gateway['numberFormat']; enabled?: boolean },
): Promise<Gateway> {
  requireWriter(actor, 'adding a gateway');
  const name = checkName(input.name);
  if (!/^[A-Za-z0-9.\-:[\]]{1,253}$/.test(input.host)) throw new InputError('host', `${JSON.stringify(input.host)} is not a host name or IP`);
  const g: Gateway = {
    name, host: input.host, port: intIn('port', input.port ?? 5060, 1, 65535), transport: input.transport ?? 'udp', priority: intIn('priority', input.priority ?? 10, 0, 1000),
    weight: intIn('weight', input.weight ?? 100, 1, 10_000), numberFormat: input.numberFormat ?? 'national', enabled: input.enabled ?? true,
  };
  return tx(deps, async (c) => {
    const out = await insert(`gateway ${name}`, 'host', () => insertGateway(c, g));
    await recordAudit(c, { actor, action: 'gateway.add', targetType: 'gateway', targetId: name, after: out });
    return out;
  });
}

/** Enable or disable a trunk or a gateway, audited with the state before. */
async function setEnabled<T extends Trunk | Gateway>(deps: ServiceDeps, actor: Actor, kind: 'trunk' | 'gateway', name: string, enabled: boolean): Promise<T> {
  requireWriter(actor, `enabling or disabling a ${kind}`);
  return tx(deps, async (c) => {
    const before = await enabledForUpdate(c, kind, name);
    if (before === null) throw new NotFoundError(`no ${kind} ${JSON.stringify(name)}`);
    const out = await writeEnabled<T>(c, kind, name, enabled);
    await recordAudit(c, { actor, action: `${kind}.${enabled ? 'enable' : 'disable'}`, targetType: kind, targetId: name, before: { enabled: before }, after: { enabled } });
    return out;
  });
}

export const enableTrunk = (deps: ServiceDeps, actor: Actor, name: string, enabled: boolean): Promise<Trunk> => setEnabled<Trunk>(deps, actor, 'trunk', name, enabled);
export const enableGateway = (deps: ServiceDeps, actor: Actor, name: string, enabled: boolean): Promise<Gateway> => setEnabled<Gateway>(deps, actor, 'gateway', name, enabled);

export interface FirewallInput {
  sipPorts: number[];
  transports: ('udp' | 'tcp')[];
  table?: string;
}

interface FirewallRules {
  groups: Record<string, string[]>;
  resolved: Record<string, string[]>;
  unresolved: string[];
  sipPorts: number[];
  transports: ('udp' | 'tcp')[];
  rules: string;
}

/**
 * nftables rules admitting SIP only from the enabled trunks and gateways (host names resolved now), dropping it
 * from everyone else (docs/security.md). Staff only, like the trunk and gateway lists it is made of. A bad table
 * name is an InputError.
 */
export async function firewallRules(deps: ServiceDeps, actor: Actor, input: FirewallInput): Promise<FirewallRules> {
  requireStaff(actor, 'the SIP firewall rules');
  const loaded = await loadSources(deps.pool);
  let rules: string;
  try {
    rules = nftablesRules({
      groups: loaded.groups, resolved: loaded.resolved, unresolved: loaded.unresolved, sipPorts: input.sipPorts, transports: input.transports,
      generatedAt: deps.now(), ...(input.table !== undefined ? { table: input.table } : {}),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new InputError('table', e.message);
    throw e;
  }
  return { groups: loaded.groups, resolved: Object.fromEntries(loaded.resolved), unresolved: loaded.unresolved, sipPorts: input.sipPorts, transports: input.transports, rules };
}
