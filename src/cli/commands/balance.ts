import { tenantBuckets } from '../../ledger/ledger.js';
import { str, type CommandSpec } from '../framework.js';
import { cny, iso, table, tenantArg } from './shared.js';

export const balanceCommands: CommandSpec[] = [
  {
    path: ['balance', 'show'],
    summary: 'A tenant\'s balance per bucket from the ledger (the system of record; charges of calls still in the\nRedis outbox are not in it yet).',
    options: [{ name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' }],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const buckets = await tenantBuckets(ctx.pool(), t.id);
      const now = Date.now();
      const usable = buckets.filter((b) => b.validFrom.getTime() <= now && (!b.expiresAt || b.expiresAt.getTime() > now));
      const sum = (kind: 'paid' | 'gift') => usable.filter((b) => b.kind === kind).reduce((s, b) => s + b.balanceFen, 0n);
      const totals = { paidFen: sum('paid'), giftFen: sum('gift'), usableFen: sum('paid') + sum('gift') };
      const text = [
        `tenant ${t.code}: usable ${cny(totals.usableFen)} CNY (paid ${cny(totals.paidFen)}, gift ${cny(totals.giftFen)})`,
        table(['bucket', 'kind', 'valid from', 'expires', 'balance CNY'], buckets.map((b) => [b.bucketId.toString(), b.kind, iso(b.validFrom), iso(b.expiresAt), cny(b.balanceFen)])),
      ].join('\n');
      return { json: { tenant: { id: t.id, code: t.code }, ...totals, buckets }, text };
    },
  },
];
