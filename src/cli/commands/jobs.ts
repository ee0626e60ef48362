import { jobsStatus } from '../../services/jobs.js';
import type { CommandSpec } from '../framework.js';
import { iso, table } from './shared.js';

export const jobsCommands: CommandSpec[] = [
  {
    path: ['jobs', 'status'],
    summary: 'The billing scheduler\'s jobs: last period run (and failures), next period due, which instance holds the lease.',
    async run(ctx) {
      const s = await jobsStatus(ctx.services(), ctx.actor);
      const text = [
        `scheduler lease: ${s.leaseHolder ? `${s.leaseHolder.holder} until ${iso(s.leaseHolder.expiresAt)}` : 'nobody (no server running the scheduler)'}`,
        table(['job', 'cadence', 'last period', 'finished', 'tenants', 'failed', 'next period', 'due', 'to catch up'], s.jobs.map((j) => [
          j.job, j.cadence, j.last?.period ?? '-', iso(j.last?.finishedAt ?? null), String(j.last?.tenants ?? 0), String(j.failedPending),
          j.next.period, iso(j.next.dueAt), String(j.next.catchUp),
        ])),
        ...s.calendarWarnings.map((w) => `WARNING calendar ${w}`),
      ].join('\n');
      return { json: s, text };
    },
  },
];
