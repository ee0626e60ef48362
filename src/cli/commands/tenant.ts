import { createTenant, listTenants, parseCallingHours, setTenantLimits, setTenantRatePlan, setTenantStatus, type Tenant, type TenantLimits, type TenantStatus } from '../../tenants/tenants.js';
import { activeOrder } from '../../tenants/orders.js';
import { tenantBuckets } from '../../ledger/ledger.js';
import { listNumbers } from '../../tenants/numbers.js';
import { str, UsageError, type CliContext, type CommandSpec, type ParsedArgs } from '../framework.js';
import { cny, cnyOption, followTenantState, iso, redisLine, table, tenantArg } from './shared.js';

const TENANT_POS = [{ name: 'tenant', doc: 'tenant code or id', required: true }];

function statusCommand(verb: 'suspend' | 'resume' | 'terminate', status: TenantStatus, summary: string): CommandSpec {
  return {
    path: ['tenant', verb],
    summary,
    positionals: TENANT_POS,
    options: [{ name: 'reason', type: 'string', doc: 'why (kept on the tenant record)' }],
    async run(ctx, args) {
      const t = await tenantArg(ctx, args.positionals[0]);
      const updated = await setTenantStatus(ctx.pool(), t.id, status, str(args, 'reason') ?? null);
      const redis = await followTenantState(ctx, updated);
      return { json: { tenant: updated, redis }, text: `tenant ${updated.code}: ${t.status} → ${updated.status}\n${redisLine(redis)}` };
    },
  };
}

function describe(t: Tenant): string[] {
  return [t.id.toString(), t.code, t.status, iso(t.serviceStart), iso(t.serviceEnd), t.legalName];
}

export const tenantCommands: CommandSpec[] = [
  {
    path: ['tenant', 'create'],
    summary: 'Create a tenant (Party A) with its full legal name.',
    options: [
      { name: 'code', type: 'string', required: true, doc: 'short unique code: a-z 0-9 _ - (e.g. acme)' },
      { name: 'legal-name', type: 'string', required: true, doc: 'full legal name (printed on bills)' },
      { name: 'rate-plan', type: 'string', doc: 'rate plan name' },
      { name: 'email', type: 'string', doc: 'low-balance notice e-mail' },
      { name: 'sms', type: 'string', doc: 'low-balance notice phone' },
      { name: 'webhook', type: 'string', doc: 'low-balance notice webhook URL' },
    ],
    examples: ['softswitch tenant create --code acme --legal-name "Acme Trading Co., Ltd." --rate-plan china-std'],
    async run(ctx, args) {
      const pool = ctx.pool();
      let t = await createTenant(pool, {
        code: str(args, 'code')!, legalName: str(args, 'legal-name')!, notifyEmail: str(args, 'email') ?? null,
        notifySms: str(args, 'sms') ?? null, notifyWebhook: str(args, 'webhook') ?? null,
      });
      const plan = str(args, 'rate-plan');
      if (plan) t = await setTenantRatePlan(pool, t.id, plan);
      const redis = await followTenantState(ctx, t);
      return { json: { tenant: t, redis }, text: `created tenant ${t.code} (id ${t.id})\n${redisLine(redis)}` };
    },
  },
  {
    path: ['tenant', 'list'],
    summary: 'List tenants.',
    options: [{ name: 'status', type: 'string', values: ['active', 'suspended', 'terminated'], doc: 'only tenants in this status' }],
    async run(ctx, args) {
      const ts = await listTenants(ctx.pool(), { status: str(args, 'status') as TenantStatus | undefined });
      return { json: ts, text: table(['id', 'code', 'status', 'service start', 'service end', 'legal name'], ts.map(describe)) };
    },
  },
  {
    path: ['tenant', 'show'],
    summary: 'Show a tenant: status, service period, active order, numbers and balances.',
    positionals: TENANT_POS,
    async run(ctx: CliContext, args: ParsedArgs) {
      const t = await tenantArg(ctx, args.positionals[0]);
      const pool = ctx.pool();
      const [order, numbers, buckets] = await Promise.all([activeOrder(pool, t.id), listNumbers(pool, t.id), tenantBuckets(pool, t.id)]);
      const text = [
        `tenant ${t.code} (id ${t.id}): ${t.legalName}`,
        `status ${t.status}${t.statusReason ? ` (${t.statusReason})` : ''}; service ${iso(t.serviceStart)} → ${iso(t.serviceEnd)}; rate plan ${t.ratePlanId ?? '-'}`,
        order ? `active order ${order.orderNo}: total ${cny(order.totalFen)} CNY, ${order.validityMonths} months, paid ${iso(order.paidAt)}` : 'no active order',
        `numbers: ${numbers.map((n) => `${n.e164} ${n.state}`).join(', ') || '-'}`,
        `balance: ${cny(buckets.reduce((s, b) => s + b.balanceFen, 0n))} CNY in ${buckets.length} buckets`,
      ].join('\n');
      return { json: { tenant: t, activeOrder: order, numbers, buckets }, text };
    },
  },
  {
    path: ['tenant', 'limits'],
    summary: 'Set call limits of a tenant (only the options given change); SIP instances apply them within seconds.',
    positionals: TENANT_POS,
    options: [
      { name: 'max-concurrent', type: 'int', doc: 'concurrent calls, 0-100000' },
      { name: 'max-cps', type: 'int', doc: 'new calls per second, 0-10000' },
      { name: 'blocked-prefixes', type: 'string', doc: 'comma list of digit prefixes never to call ("" = none)' },
      { name: 'allow-international', type: 'string', values: ['yes', 'no'], doc: 'may call outside China' },
      { name: 'calling-hours', type: 'string', doc: 'HH:MM-HH:MM in the service zone, or any' },
      { name: 'daily-cap', type: 'string', doc: 'CNY spend per day, or none' },
    ],
    examples: ['softswitch tenant limits acme --max-concurrent 60 --calling-hours 08:00-21:00 --daily-cap 500.00'],
    async run(ctx, args) {
      const t = await tenantArg(ctx, args.positionals[0]);
      const patch: Partial<TenantLimits> = {};
      if (args.opts['max-concurrent'] !== undefined) patch.maxConcurrent = args.opts['max-concurrent'] as number;
      if (args.opts['max-cps'] !== undefined) patch.maxCps = args.opts['max-cps'] as number;
      const bp = str(args, 'blocked-prefixes');
      if (bp !== undefined) patch.blockedPrefixes = bp.split(',').map((x) => x.trim()).filter(Boolean);
      const intl = str(args, 'allow-international');
      if (intl !== undefined) patch.allowInternational = intl === 'yes';
      const hours = str(args, 'calling-hours');
      if (hours !== undefined) patch.callingHours = parseCallingHours(hours);
      const cap = str(args, 'daily-cap');
      if (cap !== undefined) patch.dailySpendCapFen = cap === 'none' ? null : cnyOption(args, 'daily-cap');
      if (Object.keys(patch).length === 0) throw new UsageError('give at least one limit option (see --help)');
      const limits = await setTenantLimits(ctx.pool(), t.id, patch);
      const text = [
        `tenant ${t.code} limits: ${limits.maxConcurrent} concurrent, ${limits.maxCps} cps, international ${limits.allowInternational ? 'yes' : 'no'}`,
        `calling hours ${limits.callingHours ? `${limits.callingHours.from}-${limits.callingHours.to}` : 'any'}; daily cap ${limits.dailySpendCapFen === null ? 'none' : `${cny(limits.dailySpendCapFen)} CNY`}; blocked ${limits.blockedPrefixes.join(',') || '-'}`,
      ].join('\n');
      return { json: { tenant: t.code, limits }, text };
    },
  },
  statusCommand('suspend', 'suspended', 'Suspend a tenant at once: new calls refused, live calls cut (art. 5.4).'),
  statusCommand('resume', 'active', 'Reinstate a suspended tenant.'),
  statusCommand('terminate', 'terminated', 'Terminate a tenant (final).'),
];
