import { createWriteStream } from 'node:fs';
import { PROGRESS_EVERY } from '../../rates-import/import.js';
import { RATE_COLUMNS } from '../../rates-import/validate.js';
import { exportRateDeck, importRateDeck, listRatePlans } from '../../services/rates.js';
import { flag, reqStr, str, UsageError, type CliContext, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

/** Raised when rows are bad: the result is still printed (it lists the lines), then exit 2. */
class BadRowsError extends UsageError {}

export const ratesCommands: CommandSpec[] = [
  {
    path: ['rates', 'import'],
    summary:
      `Import a rate deck CSV into a rate plan. Every row is validated first; if any is bad, all bad rows are listed\n` +
      `with their line numbers and NOTHING is imported. Columns: ${RATE_COLUMNS.join(', ')} (prefix and\n` +
      `price_per_minute required; price in CNY/minute, up to 6 decimals). Progress every ${PROGRESS_EVERY} rows on stderr.`,
    positionals: [{ name: 'csv', doc: 'path of the CSV file (header row first)', required: true }],
    options: [
      { name: 'plan', type: 'string', required: true, doc: 'rate plan name' },
      { name: 'create-plan', type: 'bool', doc: 'create the plan if it does not exist' },
      { name: 'replace', type: 'bool', doc: 'remove the plan\'s existing entries first (else same prefix+effective_from is updated)' },
    ],
    examples: ['softswitch rates import deck.csv --plan china-std --create-plan'],
    async run(ctx, args) {
      const r = await importRateDeck(ctx.services(), ctx.actor, {
        plan: reqStr(args, 'plan'), source: args.positionals[0]!, createPlan: flag(args, 'create-plan'), replace: flag(args, 'replace'), progress: (m) => ctx.progress(m),
      });
      if (!r.ok) {
        const lines = r.errors.map((e) => (e.line > 0 ? `line ${e.line}: ${e.message}` : e.message));
        const more = r.errorCount > r.errors.length ? [`... and ${r.errorCount - r.errors.length} more`] : [];
        throw new BadRowsError(`rates import refused, nothing imported: ${r.errorCount} problem(s) in ${r.rows} data row(s)\n${[...lines, ...more].join('\n')}`, {
          imported: 0, rows: r.rows, errorCount: r.errorCount, errors: r.errors,
        });
      }
      return { json: r, text: `imported ${r.imported} rate(s) into plan ${r.plan}${r.created ? ' (created)' : ''}${r.replaced ? `, replacing ${r.replaced}` : ''}` };
    },
  },
  {
    path: ['rates', 'list'],
    summary: 'List rate plans with their entry and tenant counts (`softswitch tenant rate-plan` moves a tenant to one).',
    async run(ctx) {
      const plans = await listRatePlans(ctx.services(), ctx.actor);
      return { json: plans, text: table(['id', 'name', 'entries', 'tenants'], plans.map((p) => [p.id.toString(), p.name, String(p.entries), String(p.tenants)])) };
    },
  },
  {
    path: ['rates', 'export'],
    summary: 'Export a rate plan\'s deck as CSV (the import format) to stdout or --out.',
    options: [
      { name: 'plan', type: 'string', required: true, doc: 'rate plan name' },
      { name: 'out', type: 'string', doc: 'write to this file instead of stdout' },
    ],
    async run(ctx: CliContext, args) {
      const out = str(args, 'out');
      if (!out) {
        const n = await exportRateDeck(ctx.services(), ctx.actor, reqStr(args, 'plan'), (c) => ctx.write(c));
        ctx.progress(`exported ${n} rate(s)`);
        return { json: undefined, text: '' };
      }
      const file = createWriteStream(out);
      const n = await exportRateDeck(ctx.services(), ctx.actor, reqStr(args, 'plan'), (c) => new Promise<void>((res, rej) => (file.write(c) ? res() : file.once('drain', res).once('error', rej))));
      await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      return { json: { plan: str(args, 'plan'), rows: n, file: out }, text: `exported ${n} rate(s) to ${out}` };
    },
  },
];
