import { creditBalance } from '../../services/credits.js';
import { date, reqStr, str, type CommandSpec } from '../framework.js';
import { cny, cnyOption, iso, redisLine } from './shared.js';

export const topUpCommands: CommandSpec[] = [
  {
    path: ['top-up'],
    summary:
      'Credit a tenant: paid (cash → new paid bucket) or gift (gift funding → new gift bucket, not refundable,\n' +
      'art. 5.3). The idempotency key makes a retry safe: the same key and values never credit twice; the same key\n' +
      'with other values is refused (the HTTP API\'s Idempotency-Key shares these keys).',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'amount', type: 'string', required: true, doc: 'CNY, e.g. 500.00' },
      { name: 'kind', type: 'string', values: ['paid', 'gift'], doc: 'paid (default) or gift' },
      { name: 'idempotency-key', type: 'string', required: true, doc: 'unique key of this top-up (e.g. the payment reference)' },
      { name: 'valid-from', type: 'string', doc: 'ISO time the credit becomes usable (default now)' },
      { name: 'expires-at', type: 'string', doc: 'ISO expiry (default the end of the tenant\'s service period)' },
      { name: 'memo', type: 'string', doc: 'note kept on the ledger transfer' },
    ],
    examples: ['softswitch top-up --tenant acme --amount 500.00 --idempotency-key PAY-2026-0001'],
    async run(ctx, args) {
      const key = reqStr(args, 'idempotency-key');
      const r = await creditBalance(ctx.services(), ctx.actor, {
        tenant: str(args, 'tenant')!, kind: (str(args, 'kind') ?? 'paid') as 'paid' | 'gift', amountFen: cnyOption(args, 'amount'),
        idempotencyKey: key, validFrom: date(args, 'valid-from'), expiresAt: date(args, 'expires-at'), memo: str(args, 'memo') ?? null,
      });
      const c = r.credit;
      const head = r.replayed
        ? `top-up ${key} was already applied (transfer ${c.transferId}); nothing credited again`
        : `credited ${cny(c.amountFen)} CNY ${c.kind} to tenant ${c.tenantId}, bucket ${c.bucketId} valid ${iso(c.validFrom)} → ${iso(c.expiresAt)} (transfer ${c.transferId})`;
      return { json: { credit: c, replayed: r.replayed, redis: r.redis }, text: `${head}\n${redisLine(r.redis)}` };
    },
  },
];
