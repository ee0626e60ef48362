import { recordPayment, showAccount } from '../../services/billing.js';
import { date, flag, reqStr, str, type CommandSpec } from '../framework.js';
import { cny, cnyOption, iso, redisLine, table } from './shared.js';

const TENANT = { name: 'tenant', type: 'string' as const, required: true, doc: 'tenant code or id' };

export const paymentCommands: CommandSpec[] = [
  {
    path: ['payment', 'record'],
    summary:
      'Record a payment received from a tenant: it settles its receivables oldest first (orders, rent, late fees, fees),\n' +
      'credits the prepaid packages of an order it pays off, and reinstates a tenant suspended for overdue debt once\n' +
      'nothing is overdue. Idempotent by --reference. More than is owed is refused (record the rest with top-up).\n' +
      'With --received-at before late fees already posted, the late fee of the days it covered is taken back\n' +
      '(a correcting transfer each, shown on the statement).',
    options: [
      TENANT,
      { name: 'amount', type: 'string', required: true, doc: 'CNY received, e.g. 11420.00' },
      { name: 'reference', type: 'string', required: true, doc: 'the bank/cash reference (unique; the same reference again changes nothing)' },
      { name: 'received-at', type: 'string', doc: 'ISO time the money was received (default now)' },
      { name: 'memo', type: 'string', doc: 'note kept on the payment' },
    ],
    examples: ['softswitch payment record --tenant acme --amount 11420.00 --reference BANK-2026-0001'],
    async run(ctx, args) {
      const r = await recordPayment(ctx.services(), ctx.actor, {
        tenant: reqStr(args, 'tenant'), amountFen: cnyOption(args, 'amount'), reference: reqStr(args, 'reference'),
        receivedAt: date(args, 'received-at'), memo: str(args, 'memo') ?? null,
      });
      const text = r.duplicate
        ? `payment ${r.payment.reference} was already recorded (${cny(r.payment.amountFen)} CNY, ${iso(r.payment.receivedAt)}); nothing changed`
        : [
            `payment ${r.payment.reference}: ${cny(r.payment.amountFen)} CNY from ${r.tenant} (transfer ${r.payment.transferId})`,
            ...r.allocations.map((a) => `  ${cny(a.amountFen)} CNY → receivable ${a.receivableId} ${a.description}${a.settled ? ' (settled)' : ''}`),
            ...r.lateFeesReversed.map((l) => `  late fee of ${l.day} taken back: ${cny(l.amountFen)} CNY (receivable ${l.receivableId}, transfer ${l.transferId}): the payment's date is before it`),
            ...r.credits.map((c, i) => `credited ${cny(c.amountFen)} CNY to paid bucket ${c.bucketId}; ${redisLine(r.redis.credits[i]!)}`),
            ...(r.reinstated ? [`tenant reinstated (overdue debt paid); ${redisLine(r.redis.state)}`] : []),
            `still owed: ${cny(r.outstandingFen)} CNY`,
          ].join('\n');
      return { json: r, text };
    },
  },
  {
    path: ['payment', 'list'],
    summary: 'List a tenant\'s payments, oldest first.',
    options: [TENANT],
    async run(ctx, args) {
      const a = await showAccount(ctx.services(), ctx.actor, { tenant: reqStr(args, 'tenant') });
      return {
        json: a.payments,
        text: table(['id', 'reference', 'CNY', 'received', 'memo'], a.payments.map((p) => [p.id.toString(), p.reference, cny(p.amountFen), iso(p.receivedAt), p.memo ?? ''])),
      };
    },
  },
  {
    path: ['receivable', 'list'],
    summary: 'What a tenant owes: its receivables (orders, rent, late fees, fees) with what is paid and what is overdue.',
    options: [TENANT, { name: 'open', type: 'bool', doc: 'only receivables with something outstanding' }],
    async run(ctx, args) {
      const a = await showAccount(ctx.services(), ctx.actor, { tenant: reqStr(args, 'tenant'), openOnly: flag(args, 'open') });
      const text = [
        table(['id', 'kind', 'CNY', 'paid', 'outstanding', 'issued', 'due', 'what'],
          a.receivables.map((r) => [r.id.toString(), r.kind, cny(r.amountFen), cny(r.paidFen), cny(r.outstandingFen), iso(r.issuedAt), iso(r.dueAt), r.description])),
        `owed ${cny(a.owedFen)} CNY; overdue ${cny(a.overdue.overdueFen)} CNY${a.overdue.days ? ` for ${a.overdue.days} day(s)` : ''}`,
      ].join('\n');
      return { json: a, text };
    },
  },
];
