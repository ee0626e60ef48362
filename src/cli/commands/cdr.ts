import { createWriteStream } from 'node:fs';
import { csvLine } from '../../rates-import/import.js';
import { fenToCny } from '../../money/units.js';
import { date, int, str, UsageError, type CliContext, type CommandSpec, type ParsedArgs } from '../framework.js';
import { table, tenantArg } from './shared.js';

const COLUMNS = ['call_id', 'invite_at', 'tenant_id', 'caller', 'callee', 'result', 'sip_status', 'answer_at', 'end_at', 'billable_seconds',
  'duration_ms', 'rate_prefix', 'price_per_minute', 'charge_fen', 'reject_reason', 'disconnect_side', 'disconnect_reason', 'ingress_trunk',
  'gateway', 'a_call_id', 'b_call_id', 'ring_at', 'rate_plan_id', 'initial_increment', 'subsequent_increment', 'connect_fee',
  'minimum_seconds', 'rounding', 'instance_id', 'recorded_at'] as const;

type CdrRow = Record<(typeof COLUMNS)[number], unknown>;

const FILTERS = [
  { name: 'tenant', type: 'string' as const, doc: 'tenant code or id' },
  { name: 'from', type: 'string' as const, doc: 'calls invited at or after (ISO date/time)' },
  { name: 'to', type: 'string' as const, doc: 'calls invited before (ISO date/time)' },
];

async function where(ctx: CliContext, args: ParsedArgs): Promise<{ sql: string; params: unknown[] }> {
  const conds: string[] = [];
  const params: unknown[] = [];
  const ref = str(args, 'tenant');
  if (ref) {
    params.push((await tenantArg(ctx, ref)).id.toString());
    conds.push(`tenant_id = $${params.length}`);
  }
  const from = date(args, 'from');
  const to = date(args, 'to');
  if (from && to && to.getTime() <= from.getTime()) throw new UsageError('--to must be after --from');
  if (from) {
    params.push(from);
    conds.push(`invite_at >= $${params.length}`);
  }
  if (to) {
    params.push(to);
    conds.push(`invite_at < $${params.length}`);
  }
  return { sql: conds.length ? `where ${conds.join(' and ')}` : '', params };
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

/** CDRs as JSON objects: ids and fen as strings (exact), times ISO. */
function jsonRow(r: CdrRow): Record<string, string | number | null> {
  const o: Record<string, string | number | null> = {};
  for (const c of COLUMNS) {
    const v = r[c];
    o[c] = v === null || v === undefined ? null : typeof v === 'number' ? v : cell(v);
  }
  return o;
}

export const cdrCommands: CommandSpec[] = [
  {
    path: ['cdr', 'list'],
    summary: 'List CDRs, newest first (filters: tenant, time range).',
    options: [...FILTERS, { name: 'limit', type: 'int', doc: 'at most this many (default 50, max 10000)' }],
    async run(ctx, args) {
      const w = await where(ctx, args);
      const limit = int(args, 'limit', 50, 1, 10_000);
      const { rows } = await ctx.pool().query<CdrRow>(`select ${COLUMNS.join(', ')} from cdrs ${w.sql} order by invite_at desc, call_id limit ${limit}`, w.params);
      return {
        json: rows.map(jsonRow),
        text: table(['invite_at', 'tenant', 'caller', 'callee', 'result', 'status', 'secs', 'charge CNY', 'call_id'],
          rows.map((r) => [cell(r.invite_at), cell(r.tenant_id), cell(r.caller), cell(r.callee), cell(r.result), cell(r.sip_status),
            cell(r.billable_seconds), fenToCny(r.charge_fen as bigint), cell(r.call_id)])),
      };
    },
  },
  {
    path: ['cdr', 'export'],
    summary: 'Export CDRs (all columns, oldest first) as CSV or JSON lines to stdout or --out; streams any size.',
    options: [...FILTERS, { name: 'format', type: 'string', values: ['csv', 'json'], doc: 'csv (default) or json (one object per line)' },
      { name: 'out', type: 'string', doc: 'write to this file instead of stdout' }],
    async run(ctx, args) {
      const w = await where(ctx, args);
      const format = str(args, 'format') ?? 'csv';
      const out = str(args, 'out');
      const file = out ? createWriteStream(out) : null;
      const write = file ? (c: string) => new Promise<void>((res, rej) => (file.write(c) ? res() : file.once('drain', res).once('error', rej))) : (c: string) => ctx.write(c);
      if (format === 'csv') await write(csvLine([...COLUMNS]));
      let n = 0;
      let after: [Date | string, string] = ['-infinity', ''];
      const params = w.params.length;
      for (;;) {
        const { rows } = await ctx.pool().query<CdrRow>(
          `select ${COLUMNS.join(', ')} from cdrs ${w.sql ? w.sql + ' and' : 'where'} (invite_at, call_id) > ($${params + 1}, $${params + 2})
            order by invite_at, call_id limit 5000`,
          [...w.params, after[0], after[1]],
        );
        if (rows.length === 0) break;
        await write(rows.map((r) => (format === 'csv' ? csvLine(COLUMNS.map((c) => cell(r[c]))) : JSON.stringify(jsonRow(r)) + '\n')).join(''));
        n += rows.length;
        const last = rows[rows.length - 1]!;
        after = [last.invite_at as Date, last.call_id as string];
      }
      if (file) await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      ctx.progress(`exported ${n} CDR(s)`);
      return { json: out ? { rows: n, file: out } : undefined, text: out ? `exported ${n} CDR(s) to ${out}` : '' };
    },
  },
];
