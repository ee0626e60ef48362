import { tenantBalance } from '../../services/balance.js';
import { str, type CommandSpec } from '../framework.js';
import { cny, iso, table, tenantArg } from './shared.js';

export const balanceCommands: CommandSpec[] = [
  {
    path: ['balance', 'show'],
    summary: 'A tenant\'s balance per bucket from the ledger (the system of record; charges of calls still in the\nRedis outbox are not in it yet).',
    options: [{ name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' }],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const b = await tenantBalance(ctx.services(), ctx.actor, t.id);
      const totals = { paidFen: b.usablePaidFen, giftFen: b.usableGiftFen, usableFen: b.usableTotalFen };
      const text = [
        `tenant ${t.code}: usable ${cny(totals.usableFen)} CNY (paid ${cny(totals.paidFen)}, gift ${cny(totals.giftFen)})` +
          (b.lowBalance.low ? `; LOW (${b.lowBalance.reasons.join(', ')})` : ''),
        table(['bucket', 'kind', 'valid from', 'expires', 'balance CNY'], b.buckets.map((x) => [x.bucketId.toString(), x.kind, iso(x.validFrom), iso(x.expiresAt), cny(x.balanceFen)])),
      ].join('\n');
      return { json: { tenant: { id: t.id, code: t.code }, ...totals, buckets: b.buckets, lowBalance: b.lowBalance }, text };
    },
  },
];
