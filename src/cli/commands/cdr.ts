import { createWriteStream } from 'node:fs';
import { fenToCny } from '../../money/units.js';
import { exportCdrs, recentCdrs, type CdrFilter } from '../../services/cdrs.js';
import { date, int, str, UsageError, type CommandSpec, type ParsedArgs } from '../framework.js';
import { table } from './shared.js';

const FILTERS = [
  { name: 'tenant', type: 'string' as const, doc: 'tenant code or id' },
  { name: 'from', type: 'string' as const, doc: 'calls invited at or after (ISO date/time)' },
  { name: 'to', type: 'string' as const, doc: 'calls invited before (ISO date/time)' },
];

function filterOf(args: ParsedArgs): CdrFilter {
  const from = date(args, 'from');
  const to = date(args, 'to');
  if (from && to && to.getTime() <= from.getTime()) throw new UsageError('--to must be after --from');
  return { tenant: str(args, 'tenant'), from, to };
}

export const cdrCommands: CommandSpec[] = [
  {
    path: ['cdr', 'list'],
    summary: 'List CDRs, newest first (filters: tenant, time range).',
    options: [...FILTERS, { name: 'limit', type: 'int', doc: 'at most this many (default 50, max 10000)' }],
    async run(ctx, args) {
      const rows = await recentCdrs(ctx.services(), ctx.actor, filterOf(args), int(args, 'limit', 50, 1, 10_000));
      const s = (v: unknown) => (v === null ? '' : String(v));
      return {
        json: rows,
        text: table(['invite_at', 'tenant', 'caller', 'callee', 'result', 'status', 'secs', 'charge CNY', 'call_id'],
          rows.map((r) => [s(r.invite_at), s(r.tenant_id), s(r.caller), s(r.callee), s(r.result), s(r.sip_status), s(r.billable_seconds), fenToCny(BigInt(r.charge_fen as string)), s(r.call_id)])),
      };
    },
  },
  {
    path: ['cdr', 'export'],
    summary: 'Export CDRs (all columns, oldest first) as CSV or JSON lines to stdout or --out; streams any size.',
    options: [...FILTERS, { name: 'format', type: 'string', values: ['csv', 'json'], doc: 'csv (default) or json (one object per line)' },
      { name: 'out', type: 'string', doc: 'write to this file instead of stdout' }],
    async run(ctx, args) {
      const f = filterOf(args);
      const format = (str(args, 'format') ?? 'csv') as 'csv' | 'json';
      const out = str(args, 'out');
      const file = out ? createWriteStream(out) : null;
      const write = file ? (c: string) => new Promise<void>((res, rej) => (file.write(c) ? res() : file.once('drain', res).once('error', rej))) : (c: string) => ctx.write(c);
      const n = await exportCdrs(ctx.services(), ctx.actor, f, format, write);
      if (file) await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      ctx.progress(`exported ${n} CDR(s)`);
      return { json: out ? { rows: n, file: out } : undefined, text: out ? `exported ${n} CDR(s) to ${out}` : '' };
    },
  },
];
