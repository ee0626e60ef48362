import {
  changeRatePlan, changeStatus, createTenant, listTenants, showTenant, updateLimits, updateNoticeSettings,
  type LimitsPatch, type StatusVerb, type Tenant, type TenantStatus,
} from '../../services/tenants.js';
import { flag, str, UsageError, type CommandSpec } from '../framework.js';
import { cny, iso, redisLine, table } from './shared.js';
import { runTerminateEarly } from './termination.js';

const TENANT_POS = [{ name: 'tenant', doc: 'tenant code or id', required: true }];

function statusCommand(verb: StatusVerb, summary: string): CommandSpec {
  return {
    path: ['tenant', verb],
    summary,
    positionals: TENANT_POS,
    options: [
      { name: 'reason', type: 'string', doc: 'why (kept on the tenant record)' },
      ...(verb === 'terminate' ? [{ name: 'early', type: 'bool' as const, doc: 'the tenant cancels its contract: post the 30% early-termination fee (art. 4.6)' }] : []),
    ],
    async run(ctx, args) {
      if (verb === 'terminate' && flag(args, 'early')) return runTerminateEarly(ctx, args, args.positionals[0]!);
      const r = await changeStatus(ctx.services(), ctx.actor, args.positionals[0]!, verb, str(args, 'reason') ?? null);
      return { json: { tenant: r.tenant, redis: r.redis }, text: `tenant ${r.tenant.code}: ${r.before} → ${r.tenant.status}\n${redisLine(r.redis)}` };
    },
  };
}

function describe(t: Tenant): string[] {
  return [t.id.toString(), t.code, t.status, iso(t.serviceStart), iso(t.serviceEnd), t.legalName];
}

/** Where notices go: the same options at create and when changed (`tenant notices`). */
const NOTICE_OPTIONS = [
  { name: 'email', type: 'string' as const, doc: 'notice e-mail address, or up to 5 comma-separated' },
  { name: 'sms', type: 'string' as const, doc: 'notice mobile number (SMS)' },
  { name: 'webhook', type: 'string' as const, doc: 'notice webhook URL (http/https)' },
];

/** "" switches a notice channel off; an absent option leaves it as it is. */
const channel = (v: string | undefined): string | null | undefined => (v === undefined ? undefined : v === '' ? null : v);

/** The options given (the others left out, so they stay as they are); none given is a UsageError saying `none`. */
function onlyGiven<T extends object>(patch: T, none: string): T {
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as T;
  if (Object.keys(given).length === 0) throw new UsageError(none);
  return given;
}

export const tenantCommands: CommandSpec[] = [
  {
    path: ['tenant', 'create'],
    summary: 'Create a tenant (Party A) with its full legal name.',
    options: [
      { name: 'code', type: 'string', required: true, doc: 'short unique code: a-z 0-9 _ -, not only digits (e.g. acme)' },
      { name: 'legal-name', type: 'string', required: true, doc: 'full legal name (printed on bills)' },
      { name: 'rate-plan', type: 'string', doc: 'rate plan name' },
      ...NOTICE_OPTIONS,
    ],
    examples: ['softswitch tenant create --code acme --legal-name "Acme Trading Co., Ltd." --rate-plan china-std'],
    async run(ctx, args) {
      const { tenant: t, redis } = await createTenant(ctx.services(), ctx.actor, {
        code: str(args, 'code')!, legalName: str(args, 'legal-name')!, ratePlan: str(args, 'rate-plan') ?? null,
        notifyEmail: str(args, 'email') ?? null, notifySms: str(args, 'sms') ?? null, notifyWebhook: str(args, 'webhook') ?? null,
      });
      return { json: { tenant: t, redis }, text: `created tenant ${t.code} (id ${t.id})\n${redisLine(redis)}` };
    },
  },
  {
    path: ['tenant', 'list'],
    summary: 'List tenants.',
    options: [{ name: 'status', type: 'string', values: ['active', 'suspended', 'terminated'], doc: 'only tenants in this status' }],
    async run(ctx, args) {
      const ts = await listTenants(ctx.services(), ctx.actor, { status: str(args, 'status') as TenantStatus | undefined });
      return { json: ts, text: table(['id', 'code', 'status', 'service start', 'service end', 'legal name'], ts.map(describe)) };
    },
  },
  {
    path: ['tenant', 'show'],
    summary: 'Show a tenant: status, service period, active order, numbers and balances.',
    positionals: TENANT_POS,
    async run(ctx, args) {
      const o = await showTenant(ctx.services(), ctx.actor, args.positionals[0]!);
      const t = o.tenant;
      const text = [
        `tenant ${t.code} (id ${t.id}): ${t.legalName}`,
        `status ${t.status}${t.statusReason ? ` (${t.statusReason})` : ''}; service ${iso(t.serviceStart)} → ${iso(t.serviceEnd)}; rate plan ${o.ratePlan ?? '-'}`,
        o.activeOrder ? `active order ${o.activeOrder.orderNo}: total ${cny(o.activeOrder.totalFen)} CNY, ${o.activeOrder.validityMonths} months, paid ${iso(o.activeOrder.paidAt)}` : 'no active order',
        `numbers: ${o.numbers.map((n) => `${n.e164} ${n.state}`).join(', ') || '-'}`,
        `balance: ${cny(o.buckets.reduce((s, b) => s + b.balanceFen, 0n))} CNY in ${o.buckets.length} buckets`,
        `notices: e-mail ${t.notifyEmail ?? '-'}, SMS ${t.notifySms ?? '-'}, webhook ${t.notifyWebhook ?? '-'}, language ${t.notifyLanguage ?? 'default'}`,
      ].join('\n');
      return { json: o, text };
    },
  },
  {
    path: ['tenant', 'notices'],
    summary: 'Set where tenant notices go and their language (only the options given change; "" switches a channel off).',
    positionals: TENANT_POS,
    options: [
      ...NOTICE_OPTIONS,
      { name: 'language', type: 'string', values: ['zh', 'en', 'default'], doc: 'language of e-mail and SMS notices (default = the announcement language)' },
    ],
    examples: ['softswitch tenant notices acme --email "billing@acme.example, cfo@acme.example" --language en --webhook ""'],
    async run(ctx, args) {
      const lang = str(args, 'language');
      const patch = onlyGiven({
        notifyEmail: channel(str(args, 'email')), notifySms: channel(str(args, 'sms')), notifyWebhook: channel(str(args, 'webhook')),
        notifyLanguage: lang === undefined ? undefined : lang === 'default' ? null : lang as 'zh' | 'en',
      }, 'give at least one of --email, --sms, --webhook, --language');
      const t = await updateNoticeSettings(ctx.services(), ctx.actor, args.positionals[0]!, patch);
      return { json: t, text: `tenant ${t.code} notices: e-mail ${t.notifyEmail ?? '-'}, SMS ${t.notifySms ?? '-'}, webhook ${t.notifyWebhook ?? '-'}, language ${t.notifyLanguage ?? 'default'}` };
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
      const intl = str(args, 'allow-international');
      const cap = str(args, 'daily-cap');
      const patch = onlyGiven<LimitsPatch>({
        maxConcurrent: args.opts['max-concurrent'] as number | undefined, maxCps: args.opts['max-cps'] as number | undefined,
        blockedPrefixes: str(args, 'blocked-prefixes'), allowInternational: intl === undefined ? undefined : intl === 'yes',
        callingHours: str(args, 'calling-hours'), dailySpendCap: cap === 'none' ? null : cap,
      }, 'give at least one limit option (see --help)');
      const { tenant: t, limits } = await updateLimits(ctx.services(), ctx.actor, args.positionals[0]!, patch, { callingHours: '--calling-hours', dailySpendCap: '--daily-cap' });
      const text = [
        `tenant ${t.code} limits: ${limits.maxConcurrent} concurrent, ${limits.maxCps} cps, international ${limits.allowInternational ? 'yes' : 'no'}`,
        `calling hours ${limits.callingHours ? `${limits.callingHours.from}-${limits.callingHours.to}` : 'any'}; daily cap ${limits.dailySpendCapFen === null ? 'none' : `${cny(limits.dailySpendCapFen)} CNY`}; blocked ${limits.blockedPrefixes.join(',') || '-'}`,
      ].join('\n');
      return { json: { tenant: t.code, limits }, text };
    },
  },
  {
    path: ['tenant', 'rate-plan'],
    summary: 'Move a tenant to another rate plan: calls authorized from now on are rated by it; calls in progress keep their rate.',
    positionals: [...TENANT_POS, { name: 'plan', doc: 'rate plan name (see `softswitch rates import`)', required: true }],
    examples: ['softswitch tenant rate-plan acme china-2027'],
    async run(ctx, args) {
      const r = await changeRatePlan(ctx.services(), ctx.actor, args.positionals[0]!, args.positionals[1]!);
      const text = r.before === r.after ? `tenant ${r.tenant.code}: rate plan already ${r.after}` : `tenant ${r.tenant.code}: rate plan ${r.before ?? '-'} → ${r.after}`;
      return { json: { tenant: r.tenant, before: r.before, ratePlan: r.after, redis: r.redis }, text: `${text}\n${redisLine(r.redis)}` };
    },
  },
  statusCommand('suspend', 'Suspend a tenant at once: new calls refused, live calls cut (art. 5.4).'),
  statusCommand('resume', 'Reinstate a suspended tenant.'),
  statusCommand('terminate', 'Terminate a tenant (final).'),
];
