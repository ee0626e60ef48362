/** What the service operations share: who may do what, tenant scoping, transactions, Redis follow-up, input money. */
import type { PoolClient } from '../db/pool.js';
import { withTransaction, type Queryable } from '../db/tx.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { loadCalendar } from '../calendar/load.js';
import type { ChargingRedis } from '../charging/redis.js';
import { cnyToFen } from '../money/units.js';
import type { Tenant } from '../store/tenants.js';
import { AmbiguousTenantError, getTenant } from '../tenants/tenants.js';
import { RuleError } from '../tenants/rules.js';
import { syncTenantState, type SyncOutcome } from '../tenants/sync.js';
import type { Actor, ServiceDeps } from './context.js';
import { ForbiddenError, InputError, NotFoundError } from './errors.js';

/** Operators (and the CLI and jobs) see every tenant; a tenant actor only itself. */
export function requireStaff(actor: Actor, what: string): void {
  if (actor.kind === 'tenant') throw new ForbiddenError(`${what} is for operators only`);
}

/** Writes that only an operator-admin (or the CLI, or a job) may make. */
export function requireWriter(actor: Actor, what: string): void {
  requireStaff(actor, what);
  if (actor.readOnly) throw new ForbiddenError(`${what} needs an operator-admin token; this one is read-only`);
}

/**
 * A tenant by reference (code, id, `#<id>`; src/tenants/tenants.ts getTenant) as the actor may see it: a tenant actor
 * naming another tenant gets the same NotFoundError as for a tenant that does not exist, so nothing about other
 * tenants leaks (contract art. 6). A reference that could mean two tenants is refused (InputError) for operators.
 */
export async function resolveTenant(deps: ServiceDeps, actor: Actor, ref: string | bigint): Promise<Tenant> {
  return tenantFor(deps.pool, actor, ref);
}

/** resolveTenant read through `db` (a transaction's client too). */
export async function tenantFor(db: Queryable, actor: Actor, ref: string | bigint): Promise<Tenant> {
  const missing = () => new NotFoundError(`no tenant ${JSON.stringify(typeof ref === 'bigint' ? `#${ref}` : ref)}`);
  let t: Tenant;
  try {
    t = await getTenant(db, ref);
  } catch (e) {
    if (e instanceof AmbiguousTenantError && actor.kind !== 'tenant') throw new InputError('tenant', e.message);
    if (e instanceof RuleError) throw missing();
    throw e;
  }
  if (actor.kind === 'tenant' && t.id !== actor.tenantId) throw missing();
  return t;
}

export function tx<T>(deps: ServiceDeps, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(deps.pool, fn);
}

/** Make Redis follow a committed PostgreSQL change; a failure is reported, never thrown (reconcile repairs it). */
export async function followRedis(deps: ServiceDeps, fn: (redis: ChargingRedis) => Promise<SyncOutcome>): Promise<SyncOutcome> {
  const { redis, error } = await deps.redis();
  if (!redis) return `failed: Redis unreachable (${error})`;
  return fn(redis);
}

/** Make Redis follow a committed tenant change (live calls cut on suspend/terminate); reported, never thrown. */
export function followState(deps: ServiceDeps, t: Tenant): Promise<SyncOutcome> {
  return followRedis(deps, (r) => syncTenantState(r, t));
}

/** The working-day calendar as stored, in the service zone. */
export function calendarOf(deps: ServiceDeps): Promise<WorkingCalendar> {
  return loadCalendar(deps.pool, deps.config.service.timezone);
}

/** Redis for an operation that cannot do without it (live calls): unreachable is an error, not a warning. */
export async function needRedis(deps: ServiceDeps, what: string): Promise<ChargingRedis> {
  const { redis, error } = await deps.redis();
  if (!redis) throw new Error(`Redis is unreachable (${error}): ${what}`);
  return redis;
}

/** A CNY amount as text (at most 2 decimals) in fen; an InputError naming the field otherwise. */
export function cnyInput(field: string, text: string): bigint {
  try {
    return cnyToFen(text);
  } catch {
    throw new InputError(field, 'a CNY amount with at most 2 decimals, e.g. "500.00"');
  }
}
