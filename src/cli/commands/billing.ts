import { accrueLateFees, chargeRental, periodEndClearing } from '../../tenants/billing.js';
import { checkLowBalance } from '../../tenants/notices.js';
import { getTenant, listTenants, type Tenant } from '../../tenants/tenants.js';
import { date, str, type CliContext, type CommandSpec, type ParsedArgs } from '../framework.js';
import { cny, followTenantState, redisLine, tenantArg } from './shared.js';

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
    summary: 'For tenants whose service period has ended: clear balances to zero (ledger entry kept), reclaim numbers, terminate (art. 7.2).',
    options: OPTIONS,
    async run(ctx, args) {
      const at = date(args, 'at') ?? new Date();
      const out = [];
      for (const t of await targets(ctx, args)) {
        const r = await periodEndClearing(ctx.pool(), t.id, at);
        if (!r.terminated) continue;
        const redis = await followTenantState(ctx, await getTenant(ctx.pool(), t.id.toString()));
        out.push({ tenant: t.code, ...r, redis });
      }
      const lines = out.map((o) => `${o.tenant}: cleared ${cny(o.cleared.reduce((s, c) => s + c.amountFen, 0n))} CNY, ${o.numbersReclaimed} number(s) reclaimed, terminated; ${redisLine(o.redis)}`);
      return { json: out, text: lines.join('\n') || 'no service period has ended' };
    },
  },
];
