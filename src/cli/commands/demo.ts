import { DEMO, seedDemoData } from '../../services/setup.js';
import type { CommandSpec } from '../framework.js';
import { redisLine } from './shared.js';

export const demoCommands: CommandSpec[] = [
  {
    path: ['demo', 'seed'],
    summary:
      'Migrate, then create the contract\'s sample order (idempotent): tenant "demo", 11,000.00 CNY package valid 12\n' +
      `months, approved number ${DEMO.number} at 420.00 CNY/month, rate plan ${DEMO.ratePlan}, trunk ccc-local 127.0.0.1,\n` +
      'gateway carrier-local 127.0.0.1:5070 udp.',
    async run(ctx) {
      const { redisError, ...r } = await seedDemoData(ctx.services(), ctx.actor);
      const state = redisError === null ? r.redis.state : (`failed: Redis unreachable (${redisError})` as const);
      return {
        json: { ...r, redis: redisError === null ? r.redis : { state, credit: state } },
        text: `${r.created ? 'seeded' : 'already seeded:'} tenant ${DEMO.tenantCode} (id ${r.tenantId})\n${redisLine(state)}${redisError === null ? `; credit ${r.redis.credit}` : ''}`,
      };
    },
  },
];
