import { runLateFees, runLowBalance, runOverdue, runPeriodEnd, runRent, type JobScope, type TenantReceivables } from '../../services/billing.js';
import { date, str, type CommandSpec, type ParsedArgs } from '../framework.js';
import { cny, iso, redisLine } from './shared.js';

const OPTIONS = [
  { name: 'tenant', type: 'string' as const, doc: 'one tenant (code or id); default every active or suspended tenant' },
  { name: 'at', type: 'string' as const, doc: 'as of this ISO time (default now)' },
];

const jobScope = (args: ParsedArgs): JobScope => ({ tenant: str(args, 'tenant'), at: date(args, 'at') });

const issuedText = (out: TenantReceivables[], none: string): string =>
  out.flatMap((o) => o.issued.map((r) => `${o.tenant} receivable ${r.id}: ${cny(r.amountFen)} CNY ${r.description}; due ${iso(r.dueAt)}`)).join('\n') || none;

function rentCommand(name: 'rent' | 'rental'): CommandSpec {
  return {
    path: ['billing', name],
    summary: name === 'rent'
      ? 'Bill number rent: every rent period started so far, in advance, once per number and period (pro-rata for a number\n' +
        'added mid-period); receivable tenant:<t>:receivable → revenue:rental, due in 3 working days.'
      : 'Same as `billing rent` (the older name).',
    options: OPTIONS,
    async run(ctx, args) {
      const out = await runRent(ctx.services(), ctx.actor, jobScope(args));
      return { json: out, text: issuedText(out, 'no rent to bill') };
    },
  };
}

export const billingCommands: CommandSpec[] = [
  rentCommand('rent'),
  rentCommand('rental'),
  {
    path: ['billing', 'late-fees'],
    summary: 'Post late fees (3 per mille per overdue day of the overdue amount, rounded down to the fen) on every overdue\nreceivable, once per receivable and day, catching up missed days.',
    options: OPTIONS,
    async run(ctx, args) {
      const out = await runLateFees(ctx.services(), ctx.actor, jobScope(args));
      return { json: out, text: issuedText(out, 'no late fees due') };
    },
  },
  {
    path: ['billing', 'overdue'],
    summary: 'Send overdue notices and suspend tenants overdue for more than OVERDUE_SUSPEND_DAYS (live calls cut); a payment\nthat clears the overdue debt reinstates them.',
    options: OPTIONS,
    async run(ctx, args) {
      const out = await runOverdue(ctx.services(), ctx.actor, jobScope(args));
      const lines = out.filter((o) => o.overdue.overdueFen > 0n).map((o) =>
        `${o.tenant}: ${cny(o.overdue.overdueFen)} CNY overdue for ${o.overdue.days} day(s)${o.noticed.length ? `; notified ${o.noticed.join(', ')}` : ''}` +
        `${o.suspended ? `; SUSPENDED, ${redisLine(o.redis)}` : ''}`);
      return { json: out, text: lines.join('\n') || 'nothing overdue' };
    },
  },
  {
    path: ['billing', 'low-balance'],
    summary: 'Check the art. 2.2 low-balance rule and queue notices (deduplicated) for tenants below it.',
    options: OPTIONS,
    async run(ctx, args) {
      const out = await runLowBalance(ctx.services(), ctx.actor, jobScope(args));
      const lines = out.filter((o) => o.reasons.length).map((o) =>
        `${o.tenant}: balance ${cny(o.balanceFen)} CNY low (${o.reasons.join(', ')}); due ${cny(o.amountDueFen)} CNY for ${o.remainingMonths} month(s); notified ${o.notified.join(', ') || 'before'}`);
      return { json: out, text: lines.join('\n') || 'no tenant below the low-balance line' };
    },
  },
  {
    path: ['billing', 'period-end'],
    summary:
      'For tenants whose service period has ended (art. 7.2): reclaim numbers, terminate, and have the charging engine\n' +
      'clear the remaining balance now (bucket expiry → outbox → ledger expiry_clear entry, kept). Arrears stay owed.',
    options: OPTIONS,
    async run(ctx, args) {
      const out = await runPeriodEnd(ctx.services(), ctx.actor, jobScope(args));
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
