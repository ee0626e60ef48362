import { migrateSchema } from '../../services/setup.js';
import type { CommandSpec } from '../framework.js';

export const migrateCommands: CommandSpec[] = [
  {
    path: ['migrate'],
    summary: 'Apply pending database migrations (src/db/migrations), in order; already applied ones are skipped.',
    async run(ctx) {
      const r = await migrateSchema(ctx.services(), ctx.actor);
      return { json: r, text: r.applied.length ? `applied: ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied.length} migrations)` };
    },
  },
];
