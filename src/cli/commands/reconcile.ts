/** `softswitch reconcile`: Redis balances vs the PostgreSQL ledger (see src/reconcile/reconcile.ts). */
import type { Report } from '../../reconcile/reconcile.js';
import { reconcileReport } from '../../services/reconcile.js';
import { flag, str, UsageError, type CommandSpec } from '../framework.js';
import { cny, table } from './shared.js';

function text(r: Report, all: boolean): string {
  const lines = [
    `checked ${r.checked} tenant(s): ${r.driftTenants} with drift (${cny(r.driftFen)} CNY in total), ${r.repaired} repaired, ` +
      `${r.deferred} deferred, ${r.refused} refused (dead letters), ${r.unstable} unstable, ${r.notLoaded} not loaded in Redis${r.repair ? '' : ' (report only; --repair to fix)'}`,
    `outbox: ${r.outbox.backlog} event(s) waiting, ${r.outbox.deadLetters} dead letter(s)` +
      (r.outbox.deadLetters > 0 ? ' — WARNING: dead-lettered events (softswitch outbox dead list) were charged in Redis but are not in the ledger' : ''),
    r.ledgerInconsistent.length === 0
      ? 'ledger: every account equals the sum of its transfers'
      : `ledger: WARNING ${r.ledgerInconsistent.length} account(s) differ from their transfers: ${r.ledgerInconsistent.map((a) => a.code).join(', ')}`,
  ];
  const shown = r.tenants.filter((t) => all || t.state !== 'ok');
  if (shown.length > 0) {
    const rows: string[][] = [];
    for (const t of shown) {
      const buckets = t.buckets.filter((b) => all || b.driftFen !== 0n);
      if (buckets.length === 0) rows.push([t.tenantId, t.state, String(t.liveCalls), '-', '-', '-', '-', '-', '-', t.repair ?? '-']);
      for (const b of buckets) {
        rows.push([t.tenantId, t.state, String(t.liveCalls), b.bucketId, cny(b.ledgerFen), cny(b.redisFen), cny(b.heldFen), cny(b.outboxFen), cny(b.driftFen), t.repair ?? '-']);
      }
    }
    lines.push('', table(['tenant', 'state', 'live', 'bucket', 'ledger', 'redis', 'held', 'outbox', 'drift', 'repair'], rows));
    for (const t of shown) if (t.detail) lines.push(`tenant ${t.tenantId}: ${t.detail}`);
  }
  return lines.join('\n');
}

export const reconcileCommands: CommandSpec[] = [
  {
    path: ['reconcile'],
    summary:
      'Compare each tenant\'s Redis balance with the PostgreSQL ledger, counting money held by live calls and charges\n' +
      'still in the outbox; report every difference (amounts in CNY). With --repair, set Redis to the ledger truth\n' +
      '(atomically; a tenant whose correction would take back money held by live calls is deferred; a tenant named by\n' +
      'dead letters (outbox dead list) is refused: with --tenant the command fails, exit 2).',
    options: [
      { name: 'tenant', type: 'string', doc: 'only this tenant (code or id); default every tenant' },
      { name: 'repair', type: 'bool', doc: 'correct Redis where it differs from the ledger' },
    ],
    examples: ['softswitch reconcile', 'softswitch reconcile --tenant acme --repair', 'softswitch reconcile --json'],
    async run(ctx, args) {
      const ref = str(args, 'tenant');
      const report = await reconcileReport(ctx.services(), ctx.actor, { tenant: ref, repair: flag(args, 'repair') });
      const refused = report.tenants.find((t) => t.repair === 'refused');
      if (ref !== undefined && refused) throw new UsageError(`tenant ${ref}: ${refused.detail ?? 'not repaired'}`);
      return { json: report, text: text(report, ref !== undefined) };
    },
  },
];
