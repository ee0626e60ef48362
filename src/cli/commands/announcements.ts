/** `softswitch tenant announcements`: a tenant's prompt language and low-credit warning (src/services/announcements.ts). */
import { userInfo } from 'node:os';
import { setTenantAnnouncements } from '../../services/announcements.js';
import { str, type CommandSpec } from '../framework.js';

export const announcementCommands: CommandSpec[] = [
  {
    path: ['tenant', 'announcements'],
    summary: 'Show or set the language of a tenant\'s announcements and its low-credit warning (only the options given change).',
    positionals: [{ name: 'tenant', doc: 'tenant code or id', required: true }],
    options: [
      { name: 'language', type: 'string', values: ['zh', 'en'], doc: 'language of its prompts (default zh)' },
      { name: 'low-credit-warning', type: 'string', values: ['on', 'off'], doc: 'its callers hear a warning WARNING_SECONDS before the credit runs out (needs re-INVITE support in the call center)' },
    ],
    examples: ['softswitch tenant announcements acme --language en --low-credit-warning on'],
    async run(ctx, args) {
      const warn = str(args, 'low-credit-warning');
      const r = await setTenantAnnouncements({ pool: ctx.pool() }, { kind: 'cli', id: userInfo().username || 'cli' }, {
        tenant: args.positionals[0]!,
        ...(str(args, 'language') !== undefined ? { language: str(args, 'language')! } : {}),
        ...(warn !== undefined ? { lowCreditWarning: warn === 'on' } : {}),
      });
      const text = `tenant ${r.code} announcements: language ${r.after.language}, low-credit warning ${r.after.lowCreditWarning ? 'on' : 'off'}`
        + (JSON.stringify(r.before) === JSON.stringify(r.after) ? '' : ` (was ${r.before.language}, ${r.before.lowCreditWarning ? 'on' : 'off'})`);
      return { json: { tenant: r.code, before: r.before, after: r.after }, text };
    },
  },
];
