import { creditTenant } from '../../tenants/credits.js';
import { syncCredit } from '../../tenants/sync.js';
import { date, reqStr, str, UsageError, type CommandSpec } from '../framework.js';
import { cny, cnyOption, iso, redisLine, tenantArg } from './shared.js';

export const topUpCommands: CommandSpec[] = [
  {
    path: ['top-up'],
    summary:
      'Credit a tenant: paid (cash → new paid bucket) or gift (gift funding → new gift bucket, not refundable,\n' +
      'art. 5.3). The idempotency key makes a retry safe: the same key never credits twice.',
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
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const key = reqStr(args, 'idempotency-key');
      if (!/^[\x21-\x7e]{1,150}$/.test(key)) throw new UsageError('--idempotency-key must be 1-150 printable characters without spaces');
      if (t.status === 'terminated') throw new UsageError(`tenant ${t.code} is terminated`);
      const validFrom = date(args, 'valid-from') ?? new Date();
      const expiresAt = date(args, 'expires-at') ?? t.serviceEnd;
      // Credit may not outlive the service period: at its end the balance is cleared (art. 7.2) by bucket expiry.
      if (t.serviceEnd && (!expiresAt || expiresAt.getTime() > t.serviceEnd.getTime())) {
        throw new UsageError(`--expires-at must not be after the service end ${t.serviceEnd.toISOString()}`);
      }
      const c = await creditTenant(ctx.pool(), {
        tenantId: t.id, kind: (str(args, 'kind') ?? 'paid') as 'paid' | 'gift', amountFen: cnyOption(args, 'amount'),
        validFrom, expiresAt, idempotencyKey: `topup:${key}`, memo: str(args, 'memo') ?? null,
      });
      const { redis, error } = await ctx.redis();
      const outcome = redis ? await syncCredit(redis, c) : (`failed: Redis unreachable (${error})` as const);
      const head = c.duplicate
        ? `top-up ${key} was already applied (transfer ${c.transferId}); nothing credited again`
        : `credited ${cny(c.amountFen)} CNY ${c.kind} to ${t.code}, bucket ${c.bucketId} valid ${iso(c.validFrom)} → ${iso(c.expiresAt)} (transfer ${c.transferId})`;
      return { json: { credit: c, redis: outcome }, text: `${head}\n${redisLine(outcome)}` };
    },
  },
];
