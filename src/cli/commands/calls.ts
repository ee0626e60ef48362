/** `softswitch calls active [--tenant T]` and `softswitch calls cut --tenant T`: live calls as operators see them. */
import { cutCalls, liveCalls } from '../../services/calls.js';
import { str, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

export const callsCommands: CommandSpec[] = [
  {
    path: ['calls', 'active'],
    summary: 'Live calls per tenant across all SIP instances (from the shared concurrency sets in Redis).',
    options: [{ name: 'tenant', type: 'string', doc: 'only this tenant (code or id)' }],
    async run(ctx, args) {
      const rows = await liveCalls(ctx.services(), ctx.actor, str(args, 'tenant'));
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
      const r = await cutCalls(ctx.services(), ctx.actor, str(args, 'tenant')!, str(args, 'reason') ?? null);
      return { json: r, text: `cut requested for ${r.tenant}: ${r.liveCallsBefore} live call(s), ${r.instancesReached} SIP instance(s) reached` };
    },
  },
];
