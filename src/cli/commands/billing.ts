import { accrueLateFees, chargeRental, periodEndClearing } from '../../tenants/billing.js';
import { checkLowBalance } from '../../tenants/notices.js';
import { getTenant, listTenants, type Tenant } from '../../tenants/tenants.js';
import { date, str, type CliContext, type CommandSpec, type ParsedArgs } from '../framework.js';
import { cny, followTenantState, iso, redisLine, tenantArg } from './shared.js';
import { expireBuckets } from '../../charging/tenant-sync.js';
import type { SyncOutcome } from '../../tenants/sync.js';

const OPTIONS = [
  { name: 'tenant', type: 'string' as const, doc: 'one tenant (code or id); default every active or suspended tenant' },
  { name: 'at', type: 'string' as const, doc: 'as of this ISO time (default now)' },
];

async function targets(ctx: CliContext, args: ParsedArgs): Promise<Tenant[]> {
  const ref = str(args, 'tenant');
  if (ref) return [await tenantArg(ctx, ref)];
  return (await listTenants(ctx.pool())).filter((t) => t.status !== 'terminated');
}

export const billingCommands: CommandSpec[] = [
  {
    path: ['billing', 'rental'],
    summary: 'Charge this month\'s rent of approved/suspended numbers (receivable → revenue:rental); once per number and month.',
    options: OPTIONS,
    async run(ctx, args) {
      const at = date(args, 'at') ?? new Date();
      const out = [];
      for (const t of await targets(ctx, args)) out.push({ tenant: t.code, charges: await chargeRental(ctx.pool(), t.id, at, ctx.config.service.timezone) });
      const lines = out.flatMap((o) => o.charges.map((c) => `${o.tenant} ${c.key} ${cny(c.amountFen)} CNY${c.duplicate ? ' (already charged)' : ''}`));
      return { json: out, text: lines.join('\n') || 'nothing to charge' };
    },
  },
  {
    path: ['billing', 'late-fees'],
    summary: 'Accrue late fees (3 per mille per day, rounded down to the fen) on unpaid orders past their 3-working-day term.',
    options: OPTIONS,
    async run(ctx, args) {
      const at = date(args, 'at') ?? new Date();
      const out = [];
      for (const t of await targets(ctx, args)) out.push({ tenant: t.code, fees: await accrueLateFees(ctx.pool(), t.id, at, ctx.config.service.timezone) });
      const lines = out.flatMap((o) => o.fees.map((c) => `${o.tenant} ${c.key} ${cny(c.amountFen)} CNY`));
      return { json: out, text: lines.join('\n') || 'no late fees due' };
    },
  },
  {
    path: ['billing', 'low-balance'],
    summary: 'Check the art. 2.2 low-balance rule and queue notices (deduplicated) for tenants below it.',
    options: OPTIONS,
    async run(ctx, args) {
      const at = date(args, 'at') ?? new Date();
      const out = [];
      for (const t of await targets(ctx, args)) {
        out.push({ tenant: t.code, ...(await checkLowBalance(ctx.pool(), t.id, { percent: ctx.config.charging.lowBalancePercent, at, timeZone: ctx.config.service.timezone })) });
      }
      const lines = out.filter((o) => o.reasons.length).map((o) =>
        `${o.tenant}: balance ${cny(o.balanceFen)} CNY low (${o.reasons.join(', ')}); due ${cny(o.amountDueFen)} CNY for ${o.remainingMonths} month(s); notified ${o.notified.join(', ') || 'before'}`);
      return { json: out, text: lines.join('\n') || 'no tenant below the low-balance line' };
    },
  },
  {
    path: ['billing', 'period-end'],
    summary:
      'For tenants whose service period has ended (art. 7.2): reclaim numbers, terminate, and have the charging engine\n' +
      'clear the remaining balance now (bucket expiry → outbox → ledger expiry_clear entry, kept).',
    options: OPTIONS,
    async run(ctx, args) {
      const at = date(args, 'at') ?? new Date();
      const out = [];
      for (const t of await targets(ctx, args)) {
        const r = await periodEndClearing(ctx.pool(), t.id, at);
        if (!r.terminated) continue;
        const state = await followTenantState(ctx, await getTenant(ctx.pool(), t.id.toString()));
        const { redis, error } = await ctx.redis();
        let expiry: SyncOutcome = `failed: Redis unreachable (${error})`;
        if (redis) {
          try {
            await expireBuckets(redis, t.id.toString(), at.getTime());
            expiry = 'applied';
          } catch (e) {
            expiry = `failed: ${(e as Error).message}`;
          }
        }
        out.push({ tenant: t.code, ...r, redis: { state, expiry } });
      }
      const lines = out.flatMap((o) => [
        `${o.tenant}: ${o.numbersReclaimed} number(s) reclaimed, terminated; ${redisLine(o.redis.state)}`,
        ...o.remaining.map((b) => b.expiresByPeriodEnd
          ? `  bucket ${b.bucketId}: ${cny(b.balanceFen)} CNY expired at ${iso(b.expiresAt)}; cleared through the outbox (${redisLine(o.redis.expiry)})`
          : `  WARNING bucket ${b.bucketId}: ${cny(b.balanceFen)} CNY expires ${iso(b.expiresAt)}, after the period end: not cleared`),
      ]);
      return { json: out, text: lines.join('\n') || 'no service period has ended' };
    },
  },
];
