import { listFaultReports, listOutages, reportFault } from '../../services/outages.js';
import { date, reqStr, str, type CommandSpec } from '../framework.js';
import { iso, table } from './shared.js';

export const outageCommands: CommandSpec[] = [
  {
    path: ['outage', 'list'],
    summary:
      'The carrier outage log (art. 10): gateway down periods seen by the OPTIONS health checks, and carrier outages\n' +
      '(every enabled gateway down at once), with the working days each touched (art. 5.3 counts more than 15).',
    options: [
      { name: 'from', type: 'string', doc: 'only periods still going on at or after this ISO time' },
      { name: 'to', type: 'string', doc: 'only periods begun before this ISO time' },
      { name: 'gateway', type: 'string', doc: 'only this gateway\'s down periods' },
    ],
    examples: ['softswitch outage list --from 2026-02-01 --to 2026-03-01'],
    async run(ctx, args) {
      const r = await listOutages(ctx.services(), ctx.actor, { from: date(args, 'from'), to: date(args, 'to'), gateway: str(args, 'gateway') });
      const text = [
        'gateway down periods:',
        table(['id', 'gateway', 'down', 'up', 'working days', 'seen by'],
          r.gateways.map((g) => [g.id.toString(), g.gateway, iso(g.from), g.ongoing ? 'still down' : iso(g.to), String(g.workingDays), `${g.downSeenBy}${g.upSeenBy ? ` / ${g.upSeenBy}` : ''}`])),
        `carrier outages (all of ${r.enabledGateways.join(', ') || 'no gateway'} down):`,
        table(['from', 'to', 'working days'], r.carrier.map((c) => [iso(c.from), c.ongoing ? 'ongoing' : iso(c.to), String(c.workingDays)])),
      ].join('\n');
      return { json: r, text };
    },
  },
  {
    path: ['fault', 'report'],
    summary:
      'Record a tenant\'s fault report (art. 5.2). It is due within 1 working day of finding the fault (end of the\n' +
      'first working day after that day); a late report is recorded and flagged, and does not count for an outage\n' +
      'refund (art. 5.3).',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'description', type: 'string', required: true, doc: 'what the tenant found (1-2000 characters)' },
      { name: 'found-at', type: 'string', doc: 'ISO time the tenant found the fault (default: the report time)' },
      { name: 'reported-at', type: 'string', doc: 'ISO time the tenant reported it, e.g. by phone (default now)' },
    ],
    examples: ['softswitch fault report --tenant acme --found-at 2026-02-02T09:30:00+08:00 --description "all outbound calls fail with 503"'],
    async run(ctx, args) {
      const r = await reportFault(ctx.services(), ctx.actor, {
        tenant: reqStr(args, 'tenant'), description: reqStr(args, 'description'), foundAt: date(args, 'found-at'), reportedAt: date(args, 'reported-at'),
      });
      const f = r.report;
      const text = `fault report ${f.id} of ${r.tenant}: found ${iso(f.foundAt)}, reported ${iso(f.reportedAt)}, due by ${iso(f.reportBy)}: ${f.onTime ? 'on time' : 'LATE (art. 5.2: does not count for an outage refund)'}`;
      return { json: r, text };
    },
  },
  {
    path: ['fault', 'list'],
    summary: 'Fault reports, newest first (of one tenant, or of all).',
    options: [{ name: 'tenant', type: 'string', doc: 'tenant code or id' }],
    async run(ctx, args) {
      const rs = await listFaultReports(ctx.services(), ctx.actor, { tenant: str(args, 'tenant') });
      return {
        json: rs,
        text: table(['id', 'tenant id', 'found', 'reported', 'due by', 'on time', 'by', 'description'],
          rs.map((f) => [f.id.toString(), f.tenantId.toString(), iso(f.foundAt), iso(f.reportedAt), iso(f.reportBy), f.onTime ? 'yes' : 'LATE', f.reportedBy, f.description])),
      };
    },
  },
];
