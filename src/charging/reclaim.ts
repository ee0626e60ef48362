/**
 * What the lease sweeper needs from the Redis hash of a call it reclaims (written by authorize.lua, answer.lua and
 * extend.lua), checked field by field. Pure. A hash that does not hold up (corrupt or missing fields, a tenant of
 * another shard) is a problem string for the log, never an exception: one bad call must not stop the sweep of the
 * others (docs/charging.md "Crash recovery").
 */
import type { AppliedRate } from '../cdr/types.js';

export interface ReclaimFacts {
  tenantId: string;
  /** instance that owned the call */
  owner: string;
  callee: string;
  inviteAt: number;
  answerAt: number | null;
  /** seconds from answer the call was granted (the best known duration) */
  granted: number;
  /** null: a call reserved without a rate (nothing held, nothing to charge) */
  rate: AppliedRate | null;
}

const DECIMAL_ID = /^[0-9]{1,19}$/;
const EPOCH_MS = /^[0-9]{1,16}$/;
const CNY = /^-?[0-9]{1,12}(\.[0-9]{1,12})?$/;
const ROUNDING = new Set(['up', 'down', 'half-up']);

function rateProblem(r: unknown): string | null {
  if (typeof r !== 'object' || r === null) return 'rate is not an object';
  const x = r as Record<string, unknown>;
  for (const f of ['ratePlanId', 'prefix'] as const) if (typeof x[f] !== 'string') return `rate.${f} is not a string`;
  for (const f of ['pricePerMinute', 'connectFee'] as const) {
    if (typeof x[f] !== 'string' || !CNY.test(x[f]) || (x[f] as string).startsWith('-')) return `rate.${f} is not a CNY amount`;
  }
  for (const f of ['initialIncrement', 'subsequentIncrement'] as const) {
    if (!Number.isInteger(x[f]) || (x[f] as number) < 1) return `rate.${f} is not a positive integer`;
  }
  if (!Number.isInteger(x.minimumSeconds) || (x.minimumSeconds as number) < 0) return 'rate.minimumSeconds is not an integer >= 0';
  if (typeof x.rounding !== 'string' || !ROUNDING.has(x.rounding)) return 'rate.rounding is not up, down or half-up';
  return null;
}

/**
 * The facts of a call hash, or the first problem found. `shardOfTenant` is the layout's: the call must belong to
 * the shard being swept (`shard`), else settling it would look for it under another shard's keys.
 */
export function reclaimFacts(h: Record<string, string>, shard: number, shardOfTenant: (t: string) => number): ReclaimFacts | { problem: string } {
  const tenant = h.tenant ?? '';
  if (!DECIMAL_ID.test(tenant)) return { problem: 'tenant is not a decimal id' };
  if (shardOfTenant(tenant) !== shard) return { problem: `tenant ${tenant} is not of shard ${shard}` };
  if (!EPOCH_MS.test(h.at ?? '')) return { problem: 'at is not an epoch ms' };
  if (h.answer !== undefined && !EPOCH_MS.test(h.answer)) return { problem: 'answer is not an epoch ms' };
  if (!/^[0-9]{1,9}$/.test(h.granted ?? '')) return { problem: 'granted is not a whole number of seconds' };
  let rate: unknown;
  try {
    rate = JSON.parse(h.rate ?? '');
  } catch {
    return { problem: 'rate is not JSON' };
  }
  const bad = rate === null ? null : rateProblem(rate);
  if (bad) return { problem: bad };
  return {
    tenantId: tenant, owner: h.inst ?? '?', callee: h.callee ?? '', inviteAt: Number(h.at), answerAt: h.answer !== undefined ? Number(h.answer) : null,
    granted: Number(h.granted), rate: rate as AppliedRate | null,
  };
}
