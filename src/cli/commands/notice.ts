/** `softswitch notice list | retry`: tenant notices and their delivery (src/services/notices.ts). */
import { listNotices, NOTICE_STATES, retryNotice, type NoticeState } from '../../services/notices.js';
import { int, str, UsageError, type CommandSpec } from '../framework.js';
import { iso, table } from './shared.js';

export const noticeCommands: CommandSpec[] = [
  {
    path: ['notice', 'list'],
    summary: 'Tenant notices (low balance, overdue, suspension, renewal reminder, ...), newest first, with their delivery\nstate: pending (an attempt is planned), sent, failed (given up), parked (no e-mail/SMS provider configured).',
    options: [
      { name: 'tenant', type: 'string', doc: 'tenant code or id' },
      { name: 'state', type: 'string', values: [...NOTICE_STATES], doc: 'only notices in this state' },
      { name: 'kind', type: 'string', doc: 'only this kind, e.g. low_balance' },
      { name: 'limit', type: 'int', doc: 'most rows (default 100, at most 1000)' },
    ],
    examples: ['softswitch notice list --state failed', 'softswitch notice list --tenant acme --kind low_balance'],
    async run(ctx, args) {
      const rs = await listNotices(ctx.services(), ctx.actor, {
        tenant: str(args, 'tenant'), state: str(args, 'state') as NoticeState | undefined, kind: str(args, 'kind'), limit: int(args, 'limit', 100, 1, 1000),
      });
      return {
        json: rs,
        text: table(['id', 'tenant', 'kind', 'channel', 'to', 'state', 'attempts', 'created', 'sent / next / failed', 'error'],
          rs.map((n) => [n.id.toString(), n.tenant, n.kind, n.channel, n.to ?? '-', n.state, String(n.attempts), iso(n.createdAt),
            iso(n.sentAt ?? n.nextAttemptAt ?? n.failedAt), n.error ?? ''])),
      };
    },
  },
  {
    path: ['notice', 'retry'],
    summary: 'Send a failed or parked notice again (after fixing the address, the SMTP login or the provider): due now, with\nNOTIFY_MAX_ATTEMPTS new attempts. Audited.',
    positionals: [{ name: 'id', doc: 'notice id (notice list)', required: true }],
    examples: ['softswitch notice retry 42'],
    async run(ctx, args) {
      const id = args.positionals[0];
      if (!id) throw new UsageError('a notice id is required');
      const n = await retryNotice(ctx.services(), ctx.actor, { id });
      return { json: n, text: `notice ${n.id} (${n.tenant} ${n.kind} by ${n.channel}) queued again: ${n.state}` };
    },
  },
];
