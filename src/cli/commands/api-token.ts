/**
 * `softswitch api-token issue|list|revoke`: bearer tokens of the HTTP API and the portal, with a role
 * (operator-admin, operator-read, tenant). The token itself is printed once, at issue; only its SHA-256 is stored.
 */
import { issueToken, listTokens, revokeToken, ROLES, type Role } from '../../services/tokens.js';
import { date, str, UsageError, type CommandSpec } from '../framework.js';
import { iso, table } from './shared.js';

export const apiTokenCommands: CommandSpec[] = [
  {
    path: ['api-token', 'issue'],
    summary:
      'Issue an HTTP API / portal token. A tenant token sees only its own tenant; operator-read reads everything and\n' +
      'changes nothing; operator-admin may do everything. The token is shown once: hand it over now.',
    options: [
      { name: 'tenant', type: 'string', doc: 'tenant code or id (for --role tenant, the default role)' },
      { name: 'role', type: 'string', values: ROLES, doc: 'tenant (default), operator-read or operator-admin' },
      { name: 'label', type: 'string', doc: 'what the token is for (at most 100 characters)' },
      { name: 'expires-at', type: 'string', doc: 'ISO date/time after which the token is refused (default never)' },
    ],
    examples: ['softswitch api-token issue --tenant acme --label "billing portal"', 'softswitch api-token issue --role operator-read --label "NOC dashboard" --expires-at 2027-01-01'],
    async run(ctx, args) {
      const role = (str(args, 'role') ?? 'tenant') as Role;
      const tenant = str(args, 'tenant');
      if (role === 'tenant' && !tenant) throw new UsageError('--tenant is required for a tenant token');
      const { token, info } = await issueToken(ctx.services(), ctx.actor, { role, tenant, label: str(args, 'label') ?? '', expiresAt: date(args, 'expires-at') ?? null });
      const who = info.tenantCode ? `tenant ${info.tenantCode}` : role;
      return {
        json: { id: info.id, role, tenant: info.tenantId === null ? null : { id: info.tenantId, code: info.tenantCode }, label: info.label, expiresAt: info.expiresAt, token },
        text: `token ${info.id} for ${who}${info.expiresAt ? `, expires ${iso(info.expiresAt)}` : ''} (shown once; use as "Authorization: Bearer <token>"):\n${token}`,
      };
    },
  },
  {
    path: ['api-token', 'list'],
    summary: 'List API tokens (of one tenant, or all): ids, roles, labels, dates; never the tokens.',
    options: [{ name: 'tenant', type: 'string', doc: 'tenant code or id (default every token)' }],
    async run(ctx, args) {
      const tokens = await listTokens(ctx.services(), ctx.actor, { tenant: str(args, 'tenant') });
      return {
        json: { tokens },
        text: table(['id', 'role', 'tenant', 'label', 'created', 'expires', 'revoked'],
          tokens.map((k) => [k.id.toString(), k.role, k.tenantCode ?? '-', k.label, iso(k.createdAt), iso(k.expiresAt), iso(k.revokedAt)])),
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
      const r = await revokeToken(ctx.services(), ctx.actor, BigInt(raw));
      return { json: { id: raw, revoked: true, revokedAt: r.revokedAt }, text: `token ${raw} revoked` };
    },
  },
];
