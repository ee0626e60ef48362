import { addNumber, changeNumberState, listNumbers } from '../../tenants/numbers.js';
import type { NumberAction } from '../../tenants/rules.js';
import { str, type CommandSpec } from '../framework.js';
import { iso, RENT_OPTIONS, rentOption, rentText, table, tenantArg } from './shared.js';

function stateCommand(action: NumberAction, summary: string, reasonRequired: boolean): CommandSpec {
  return {
    path: ['number', action],
    summary,
    positionals: [{ name: 'e164', doc: 'the number, e.g. +8657188880000', required: true }],
    options: [{ name: 'reason', type: 'string', required: reasonRequired, doc: 'why (kept on the number)' }],
    async run(ctx, args) {
      const n = await changeNumberState(ctx.pool(), args.positionals[0]!, action, str(args, 'reason') ?? null);
      return { json: n, text: `number ${n.e164}: ${n.state}` };
    },
  };
}

export const numberCommands: CommandSpec[] = [
  {
    path: ['number', 'add'],
    summary: 'Give a real-name number to a tenant; it is unusable until approved (art. 4.2). Rent is owed from today\n' +
      '(pro-rata for the rest of the running rent period), billed by the rent job.',
    positionals: [{ name: 'e164', doc: 'the number, e.g. +8657188880000', required: true }],
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      ...RENT_OPTIONS,
    ],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const n = await addNumber(ctx.pool(), { tenantId: t.id, e164: args.positionals[0]!, rent: rentOption(args), at: new Date() });
      return { json: n, text: `number ${n.e164} → ${t.code}: ${n.state}, rent ${rentText(n.rent)}` };
    },
  },
  stateCommand('approve', 'Approve a number after qualification review (or reinstate a suspended one).', false),
  stateCommand('suspend', 'Suspend a number (e.g. the carrier demands new documents).', true),
  stateCommand('reclaim', 'Reclaim a number from its tenant (final for that tenant).', false),
  {
    path: ['number', 'list'],
    summary: 'List numbers (all, or one tenant\'s).',
    options: [{ name: 'tenant', type: 'string', doc: 'tenant code or id' }],
    async run(ctx, args) {
      const ref = str(args, 'tenant');
      const ns = await listNumbers(ctx.pool(), ref ? (await tenantArg(ctx, ref)).id : undefined);
      return { json: ns, text: table(['number', 'tenant', 'state', 'rent', 'reviewed'], ns.map((n) => [n.e164, n.tenantId?.toString() ?? '-', n.state, rentText(n.rent), iso(n.reviewedAt)])) };
    },
  },
];
