import { DOC_TYPES, addDocuments, addNumber, listNumbers, reviewNumber, reviewQueue, type DocType, type NumberWithDocs, type ReviewAction } from '../../services/numbers.js';
import type { NumberState } from '../../tenants/rules.js';
import { reqStr, str, type CommandSpec } from '../framework.js';
import { iso, RENT_OPTIONS, rentOption, rentText, table } from './shared.js';

const E164_POS = [{ name: 'e164', doc: 'the number, e.g. +8657188880000', required: true }];

function stateCommand(action: ReviewAction, summary: string, reasonRequired: boolean): CommandSpec {
  return {
    path: ['number', action],
    summary,
    positionals: E164_POS,
    options: [{ name: 'reason', type: 'string', required: reasonRequired, doc: 'why (kept on the number)' }],
    async run(ctx, args) {
      const n = await reviewNumber(ctx.services(), ctx.actor, args.positionals[0]!, action, str(args, 'reason') ?? null);
      return { json: n, text: `number ${n.e164}: ${n.state}` };
    },
  };
}

const listing = (ns: NumberWithDocs[]) =>
  table(['number', 'tenant', 'state', 'rent', 'reviewed', 'documents'],
    ns.map((n) => [n.e164, n.tenantCode ?? '-', n.state, rentText(n.rent), iso(n.reviewedAt), n.documents.map((d) => `${d.docType}:${d.docRef}`).join(' ') || '-']));

export const numberCommands: CommandSpec[] = [
  {
    path: ['number', 'add'],
    summary: 'Give a real-name number to a tenant; it is unusable until approved (art. 4.2). Rent is owed from today\n' +
      '(pro-rata for the rest of the running rent period), billed by the rent job.',
    positionals: E164_POS,
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      ...RENT_OPTIONS,
    ],
    async run(ctx, args) {
      const n = await addNumber(ctx.services(), ctx.actor, { tenant: str(args, 'tenant')!, e164: args.positionals[0]!, rent: rentOption(args) });
      return { json: n, text: `number ${n.e164} → ${n.tenantCode}: ${n.state}, rent ${rentText(n.rent)}` };
    },
  },
  {
    path: ['number', 'document'],
    summary: 'Record a real-name document of a number (a reference: type, its id in the document store, the file\'s SHA-256).\nA rejected number goes back to review.',
    positionals: E164_POS,
    options: [
      { name: 'type', type: 'string', required: true, values: DOC_TYPES, doc: 'document type' },
      { name: 'ref', type: 'string', required: true, doc: 'the document\'s id in the document store' },
      { name: 'sha256', type: 'string', required: true, doc: 'SHA-256 of the file, 64 hex digits' },
    ],
    examples: ['softswitch number document +8657188880001 --type business_licence --ref DMS-2026-0042 --sha256 $(sha256sum licence.pdf | cut -c1-64)'],
    async run(ctx, args) {
      const n = await addDocuments(ctx.services(), ctx.actor, args.positionals[0]!, [
        { docType: reqStr(args, 'type') as DocType, docRef: reqStr(args, 'ref'), fileSha256: reqStr(args, 'sha256').toLowerCase() },
      ]);
      return { json: n, text: `number ${n.e164}: ${n.state}, ${n.documents.length} document(s)` };
    },
  },
  stateCommand('approve', 'Approve a number after qualification review (or reinstate a suspended one).', false),
  stateCommand('reject', 'Reject a number\'s documents in review (new documents put it back in review).', true),
  stateCommand('suspend', 'Suspend a number (e.g. the carrier demands new documents).', true),
  stateCommand('reclaim', 'Reclaim a number from its tenant (final for that tenant).', false),
  {
    path: ['number', 'list'],
    summary: 'List numbers (all, or one tenant\'s, or one state\'s) with their documents.',
    options: [
      { name: 'tenant', type: 'string', doc: 'tenant code or id' },
      { name: 'state', type: 'string', values: ['pending_review', 'approved', 'suspended', 'rejected', 'reclaimed'], doc: 'only numbers in this state' },
    ],
    async run(ctx, args) {
      const ns = await listNumbers(ctx.services(), ctx.actor, { tenant: str(args, 'tenant'), state: str(args, 'state') as NumberState | undefined });
      return { json: ns, text: listing(ns) };
    },
  },
  {
    path: ['number', 'review-queue'],
    summary: 'Numbers waiting for real-name review, oldest first, with their documents.',
    async run(ctx) {
      const ns = await reviewQueue(ctx.services(), ctx.actor);
      return { json: ns, text: ns.length ? listing(ns) : 'no number waits for review' };
    },
  },
];
