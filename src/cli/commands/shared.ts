/** Helpers shared by command modules: money options, tenant lookup, Redis follow-up reporting, text tables. */
import { cnyToFen, fenToCny } from '../../money/units.js';
import { RENT_PERIODS, type Rent, type RentPeriod } from '../../billing/rent.js';
import { userInfo } from 'node:os';
import type { Actor } from '../../services/context.js';
import { resolveTenant } from '../../services/common.js';
import type { Tenant } from '../../services/tenants.js';
import { REDIS_REPAIR_HINT, type SyncOutcome } from '../../tenants/sync.js';
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

export const RENT_OPTIONS = [
  { name: 'rent', type: 'string' as const, doc: 'CNY per number per rent period (default 0)' },
  { name: 'rent-period', type: 'string' as const, values: RENT_PERIODS, doc: 'rent period, billed in advance at each period start (default year)' },
  { name: 'monthly-rent', type: 'string' as const, doc: 'same as --rent X --rent-period month (kept for old scripts)' },
];

/** --rent/--rent-period (or the older --monthly-rent) as a Rent. */
export function rentOption(args: ParsedArgs): Rent {
  const monthly = str(args, 'monthly-rent');
  if (monthly !== undefined) {
    if (str(args, 'rent') !== undefined || str(args, 'rent-period') !== undefined) throw new UsageError('give --rent/--rent-period or --monthly-rent, not both');
    return { amountFen: cnyOption(args, 'monthly-rent'), period: 'month' };
  }
  return { amountFen: cnyOption(args, 'rent', 0n), period: (str(args, 'rent-period') ?? 'year') as RentPeriod };
}

export const rentText = (r: Rent): string => `${fenToCny(r.amountFen)} CNY/${r.period}`;

export async function tenantArg(ctx: CliContext, ref: string | undefined): Promise<Tenant> {
  if (!ref) throw new UsageError('a tenant (code or id) is required');
  return resolveTenant(ctx.services(), ctx.actor, ref);
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

/** The CLI's actor in the audit log: the OS user running it. */
export function cliActor(): Actor {
  let id = 'cli';
  try {
    id = userInfo().username || 'cli';
  } catch {
    // no passwd entry (containers): keep 'cli'
  }
  return { kind: 'cli', id };
}
