import { createOrder, listOrders, payOrder } from '../../services/orders.js';
import { date, flag, int, str, type CommandSpec } from '../framework.js';
import { cny, cnyOption, iso, redisLine, RENT_OPTIONS, rentOption, table } from './shared.js';

export const orderCommands: CommandSpec[] = [
  {
    path: ['order', 'create'],
    summary:
      'Create an order; it supersedes the tenant\'s active order (history kept). The prepaid packages become a paid\n' +
      'bucket valid --validity-months from activation; the packages and the first rent period are receivables due in 3\n' +
      'working days, paid now (reference order:<order-no>) unless --unpaid; numbers are added pending review.',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'package-amount', type: 'string', required: true, doc: 'CNY per prepaid package, e.g. 11000.00' },
      { name: 'package-count', type: 'int', doc: 'number of packages (default 1)' },
      { name: 'validity-months', type: 'int', required: true, doc: 'validity of the packages / service period, 1-120' },
      { name: 'numbers', type: 'string', doc: 'comma list of E.164 numbers for the tenant' },
      { name: 'number-count', type: 'int', doc: 'numbers ordered (default: how many --numbers)' },
      ...RENT_OPTIONS,
      { name: 'order-no', type: 'string', doc: 'order number (default generated); an existing one is a no-op' },
      { name: 'signed-at', type: 'string', doc: 'signing time, ISO (default now)' },
      { name: 'activated-at', type: 'string', doc: 'activation time, ISO (default signing time)' },
      { name: 'unpaid', type: 'bool', doc: 'record the order as not yet paid (no credit; late fees accrue after 3 working days)' },
    ],
    examples: ['softswitch order create --tenant acme --package-amount 11000.00 --validity-months 12 --numbers +8657188880001 --rent 420.00 --rent-period year'],
    async run(ctx, args) {
      const numbers = (str(args, 'numbers') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const r = await createOrder(ctx.services(), ctx.actor, {
        tenant: str(args, 'tenant')!,
        orderNo: str(args, 'order-no'),
        packageAmountFen: cnyOption(args, 'package-amount'),
        packageCount: int(args, 'package-count', 1, 0, 1000),
        validityMonths: int(args, 'validity-months', 0, 1, 120),
        numberCount: int(args, 'number-count', numbers.length, 0, 10000),
        rent: rentOption(args),
        signedAt: date(args, 'signed-at'),
        activatedAt: date(args, 'activated-at'),
        paid: !flag(args, 'unpaid'),
        numbers,
      });
      if (r.duplicate) return { json: r, text: `order ${r.order.orderNo} already exists; nothing changed` };
      const text = [
        `order ${r.order.orderNo} for ${str(args, 'tenant')}: contract total ${cny(r.order.totalFen)} CNY${r.superseded ? ` (supersedes order id ${r.superseded})` : ''}`,
        ...r.receivables.map((x) => `receivable ${x.id}: ${cny(x.amountFen)} CNY ${x.description}; due ${iso(x.dueAt)}${x.outstandingFen === 0n ? ' (paid)' : ''}`),
        `service period ${iso(r.serviceStart)} → ${iso(r.serviceEnd)}`,
        r.credit ? `paid; credited ${cny(r.credit.amountFen)} CNY to paid bucket ${r.credit.bucketId} (transfer ${r.credit.transferId})` : 'not paid: no credit yet',
        ...r.numbers.map((n) => `number ${n.e164}: ${n.state}`),
        redisLine(r.redis.state),
        ...(r.credit ? [redisLine(r.redis.credit)] : []),
      ].join('\n');
      return { json: r, text };
    },
  },
  {
    path: ['order', 'pay'],
    summary: 'Record payment of an unpaid order: its prepaid packages are credited now; late fees stop accruing. Idempotent.',
    positionals: [{ name: 'order-no', doc: 'the order number', required: true }],
    options: [{ name: 'paid-at', type: 'string', doc: 'payment time, ISO (default now)' }],
    async run(ctx, args) {
      const r = await payOrder(ctx.services(), ctx.actor, args.positionals[0]!, date(args, 'paid-at'));
      const head = r.duplicate ? `order ${r.order.orderNo} was already paid (${iso(r.order.paidAt)})` : `order ${r.order.orderNo} paid ${iso(r.order.paidAt)}`;
      const credited = r.credit && !r.duplicate ? [`credited ${cny(r.credit.amountFen)} CNY to paid bucket ${r.credit.bucketId}`] : [];
      return { json: r, text: [head, ...credited, ...(r.credit ? [redisLine(r.redis.credit)] : [])].join('\n') };
    },
  },
  {
    path: ['order', 'list'],
    summary: 'List a tenant\'s orders, oldest first (superseded ones included).',
    options: [{ name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' }],
    async run(ctx, args) {
      const os = await listOrders(ctx.services(), ctx.actor, str(args, 'tenant')!);
      return {
        json: os,
        text: table(['order', 'status', 'signed', 'activated', 'months', 'total CNY', 'paid'],
          os.map((o) => [o.orderNo, o.status, iso(o.signedAt), iso(o.activatedAt), String(o.validityMonths), cny(o.totalFen), iso(o.paidAt)])),
      };
    },
  },
];
