/** `softswitch calls active [--tenant T]` and `softswitch calls cut --tenant T`: live calls as operators see them. */
import { liveCallsByTenant, publishCut } from '../../sip/control.js';
import { str, type CliContext, type CommandSpec } from '../framework.js';
import { table, tenantArg } from './shared.js';

async function redisOf(ctx: CliContext) {
  const { redis, error } = await ctx.redis();
  if (!redis) throw new Error(`Redis is unreachable (${error}); live calls are unknown and nothing was cut`);
  return redis;
}

export const callsCommands: CommandSpec[] = [
  {
    path: ['calls', 'active'],
    summary: 'Live calls per tenant across all SIP instances (from the shared concurrency sets in Redis).',
    options: [{ name: 'tenant', type: 'string', doc: 'only this tenant (code or id)' }],
    async run(ctx, args) {
      const ref = str(args, 'tenant');
      const tenantId = ref === undefined ? undefined : (await tenantArg(ctx, ref)).id.toString();
      const live = await liveCallsByTenant(await redisOf(ctx), tenantId);
      const rows = [...live].map(([t, n]) => ({ tenantId: t, calls: n }));
      const text = rows.length === 0 ? 'no live calls' : table(['tenant id', 'live calls'], rows.map((r) => [r.tenantId, String(r.calls)]));
      return { json: rows, text };
    },
  },
  {
    path: ['calls', 'cut'],
    summary: 'Cut every live call of a tenant now, on every SIP instance (BYE on both legs, CDRs written).\nThe tenant stays active: to stop new calls as well use `tenant suspend`.',
    options: [
      { name: 'tenant', type: 'string', doc: 'tenant code or id', required: true },
      { name: 'reason', type: 'string', doc: 'disconnect reason in the CDRs and the BYE (default "operator cut")' },
    ],
    examples: ['softswitch calls cut --tenant acme --reason "fraud review"'],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const redis = await redisOf(ctx);
      const tenantId = t.id.toString();
      const before = (await liveCallsByTenant(redis, tenantId)).get(tenantId) ?? 0;
      const instances = await publishCut(redis, tenantId, str(args, 'reason') ?? 'operator cut');
      return {
        json: { tenantId, tenant: t.code, liveCallsBefore: before, instancesReached: instances },
        text: `cut requested for ${t.code}: ${before} live call(s), ${instances} SIP instance(s) reached`,
      };
    },
  },
];
