/** Helpers shared by command modules: money options, tenant lookup, Redis follow-up reporting, text tables. */
import { cnyToFen, fenToCny } from '../../money/units.js';
import { getTenant, type Tenant } from '../../tenants/tenants.js';
import { REDIS_REPAIR_HINT, syncTenantState, type SyncOutcome } from '../../tenants/sync.js';
import { str, UsageError, type CliContext, type ParsedArgs } from '../framework.js';

/** A CNY amount option (at most 2 decimals) as fen. */
export function cnyOption(args: ParsedArgs, name: string, dflt?: bigint): bigint {
  const v = str(args, name);
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError(`--${name} is required (CNY, e.g. 11000.00)`);
    return dflt;
  }
  try {
    return cnyToFen(v);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

export const cny = (fen: bigint): string => fenToCny(fen);

export async function tenantArg(ctx: CliContext, ref: string | undefined): Promise<Tenant> {
  if (!ref) throw new UsageError('a tenant (code or id) is required');
  return getTenant(ctx.pool(), ref);
}

/** Push the tenant's state to Redis; the outcome line for text output. */
export async function followTenantState(ctx: CliContext, t: Tenant): Promise<SyncOutcome> {
  const { redis, error } = await ctx.redis();
  if (!redis) return `failed: Redis unreachable (${error})`;
  return syncTenantState(redis, t);
}

export function redisLine(outcome: SyncOutcome): string {
  return outcome.startsWith('failed') ? `WARNING Redis not updated (${outcome.slice(8)}); ${REDIS_REPAIR_HINT}` : `redis: ${outcome}`;
}

/** Plain text table: header + rows, columns padded. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export const iso = (d: Date | null): string => (d ? d.toISOString() : '-');
