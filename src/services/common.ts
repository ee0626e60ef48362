/** What the service operations share: who may do what, tenant scoping, transactions, Redis follow-up. */
import { withTransaction, type PoolClient } from '../db/pool.js';
import type { ChargingRedis } from '../charging/redis.js';
import { getTenant, type Tenant } from '../tenants/tenants.js';
import { RuleError } from '../tenants/rules.js';
import type { SyncOutcome } from '../tenants/sync.js';
import type { Actor, ServiceDeps } from './context.js';
import { ForbiddenError, NotFoundError } from './errors.js';

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
 * A tenant by code or id as the actor may see it: a tenant actor naming another tenant gets the same NotFoundError
 * as for a tenant that does not exist, so nothing about other tenants leaks (contract art. 6).
 */
export async function resolveTenant(deps: ServiceDeps, actor: Actor, ref: string | bigint): Promise<Tenant> {
  const text = String(ref);
  const missing = () => new NotFoundError(`no tenant ${JSON.stringify(text)}`);
  let t: Tenant;
  try {
    t = await getTenant(deps.pool, text);
  } catch (e) {
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

/** Redis for an operation that cannot do without it (live calls): unreachable is an error, not a warning. */
export async function needRedis(deps: ServiceDeps, what: string): Promise<ChargingRedis> {
  const { redis, error } = await deps.redis();
  if (!redis) throw new Error(`Redis is unreachable (${error}): ${what}`);
  return redis;
}
