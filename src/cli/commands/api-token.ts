/**
 * `softswitch api-token issue|list|revoke`: bearer tokens of the tenant HTTP API (src/api). The token itself is
 * printed once, at issue; only its SHA-256 is stored.
 */
import { issueApiToken, revokeApiToken } from '../../api/tokens.js';
import { str, UsageError, type CommandSpec } from '../framework.js';
import { iso, table, tenantArg } from './shared.js';

export const apiTokenCommands: CommandSpec[] = [
  {
    path: ['api-token', 'issue'],
    summary: 'Issue an HTTP API token for a tenant (it sees only its own balance, bills and CDRs).\nThe token is shown once: hand it over now.',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'label', type: 'string', doc: 'what the token is for (at most 100 characters)' },
    ],
    examples: ['softswitch api-token issue --tenant acme --label "billing portal"'],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const label = str(args, 'label') ?? '';
      if (label.length > 100) throw new UsageError('--label: at most 100 characters');
      const { id, token } = await issueApiToken(ctx.pool(), t.id, label);
      return {
        json: { id, tenant: { id: t.id, code: t.code }, label, token },
        text: `token ${id} for tenant ${t.code} (shown once; use as "Authorization: Bearer <token>"):\n${token}`,
      };
    },
  },
  {
    path: ['api-token', 'list'],
    summary: 'List the API tokens of a tenant (ids, labels, dates; never the tokens).',
    options: [{ name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' }],
    async run(ctx, args) {
      const t = await tenantArg(ctx, str(args, 'tenant'));
      const { rows } = await ctx.pool().query<{ id: bigint; label: string; created_at: Date; revoked_at: Date | null }>(
        'select id, label, created_at, revoked_at from api_tokens where tenant_id = $1 order by id',
        [t.id],
      );
      const tokens = rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, revokedAt: r.revoked_at }));
      return {
        json: { tenant: { id: t.id, code: t.code }, tokens },
        text: table(['id', 'label', 'created', 'revoked'], tokens.map((k) => [k.id.toString(), k.label, iso(k.createdAt), iso(k.revokedAt)])),
      };
    },
  },
  {
    path: ['api-token', 'revoke'],
    summary: 'Revoke an API token by id (effective at the next request).',
    positionals: [{ name: 'id', doc: 'token id (from issue or list)', required: true }],
    async run(ctx, args) {
      const raw = args.positionals[0];
      if (!raw || !/^[1-9][0-9]{0,17}$/.test(raw)) throw new UsageError(`token id must be a positive integer, got ${JSON.stringify(raw ?? '')}`);
      if (!(await revokeApiToken(ctx.pool(), BigInt(raw)))) throw new UsageError(`no active API token with id ${raw}`);
      return { json: { id: raw, revoked: true }, text: `token ${raw} revoked` };
    },
  },
];
