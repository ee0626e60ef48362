/** `softswitch audit list`: the append-only audit log of operator and CLI writes (who, when, what, before/after). */
import { auditList } from '../../services/audit.js';
import { date, int, str, UsageError, type CommandSpec } from '../framework.js';
import { iso, table } from './shared.js';

const short = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
};

export const auditCommands: CommandSpec[] = [
  {
    path: ['audit', 'list'],
    summary: 'The audit log, newest first: every operator (API) and CLI write with its actor, target and before/after.',
    options: [
      { name: 'tenant', type: 'string', doc: 'only entries about this tenant (code or id)' },
      { name: 'action', type: 'string', doc: 'only this action, e.g. tenant.suspend, credit.top-up' },
      { name: 'since', type: 'string', doc: 'at or after this ISO date/time' },
      { name: 'until', type: 'string', doc: 'before this ISO date/time' },
      { name: 'limit', type: 'int', doc: 'at most this many (default 100, max 1000)' },
      { name: 'before-id', type: 'string', doc: 'only entries older than this id (paging: the last id shown)' },
    ],
    examples: ['softswitch audit list --tenant acme --limit 20', 'softswitch audit list --action credit.top-up --since 2026-11-01 --json'],
    async run(ctx, args) {
      const before = str(args, 'before-id');
      if (before !== undefined && !/^[1-9][0-9]{0,18}$/.test(before)) throw new UsageError(`--before-id must be a positive integer, got ${JSON.stringify(before)}`);
      const r = await auditList(ctx.services(), ctx.actor, {
        tenant: str(args, 'tenant'), action: str(args, 'action'), since: date(args, 'since'), until: date(args, 'until'),
        limit: int(args, 'limit', 100, 1, 1000), ...(before ? { beforeId: BigInt(before) } : {}),
      });
      return {
        json: r,
        text: r.rows.length === 0 ? 'no audit entries' : table(['id', 'at', 'actor', 'action', 'target', 'tenant', 'before', 'after'],
          r.rows.map((a) => [a.id.toString(), iso(a.at), `${a.actorKind}:${a.actorId}`, a.action, `${a.targetType}:${a.targetId ?? '-'}`, a.tenantId?.toString() ?? '-', short(a.before), short(a.after ?? a.detail)])),
      };
    },
  },
];
