/** `tenant terminate --early` (art. 4.6) and `tenant refund --reason outage` (art. 5.3): src/services/termination.ts. */
import { refundOutage, terminateEarly, OVERRIDE_MAX } from '../../services/termination.js';
import { int, reqStr, str, UsageError, type CliContext, type CommandResult, type CommandSpec, type ParsedArgs } from '../framework.js';
import { cny, iso, redisLine } from './shared.js';

/** The `--early` branch of `tenant terminate`. */
export async function runTerminateEarly(ctx: CliContext, args: ParsedArgs, tenant: string): Promise<CommandResult> {
  const r = await terminateEarly(ctx.services(), ctx.actor, { tenant, reason: str(args, 'reason') });
  const text = r.duplicate
    ? `tenant ${r.tenant} was already terminated early at ${iso(r.termination.at)} (fee ${cny(r.feeFen)} CNY); nothing changed`
    : [
        `tenant ${r.tenant} terminated early (art. 4.6); ${r.numbersReclaimed} number(s) reclaimed`,
        `contract value (order ${r.orderNo} contract total) ${cny(r.contractValueFen)} CNY → early-termination fee 30% = ${cny(r.feeFen)} CNY` +
          (r.fee ? ` (receivable ${r.fee.id}, due ${iso(r.fee.dueAt)})` : ''),
        `owed now: ${cny(r.owedFen)} CNY; the balance is not refunded (cleared at the service period end, art. 7.2)`,
        r.redis === 'skipped' ? '' : redisLine(r.redis),
      ].filter(Boolean).join('\n');
  return { json: r, text };
}

export const terminationCommands: CommandSpec[] = [
  {
    path: ['tenant', 'refund'],
    summary:
      'Refund a tenant\'s remaining PAID balance after a carrier outage of more than 15 consecutive working days\n' +
      '(art. 5.3; gift credit is not refunded): terminates the tenant (no fee), cuts its live calls, zeroes its paid\n' +
      'buckets and posts one ledger transfer of kind refund per bucket. Checked against the outage log and the\n' +
      'tenant\'s on-time fault reports; --override records why it is granted without that evidence.',
    positionals: [{ name: 'tenant', doc: 'tenant code or id', required: true }],
    options: [
      { name: 'reason', type: 'string', required: true, values: ['outage'], doc: 'why: outage (art. 5.3)' },
      { name: 'override', type: 'string', doc: `grant it although the outage log does not show the outage: the reason (1-${OVERRIDE_MAX} characters, audited)` },
      { name: 'wait-seconds', type: 'int', doc: 'how long to wait for the tenant\'s live calls to end before refunding (default 10)' },
    ],
    examples: ['softswitch tenant refund acme --reason outage', 'softswitch tenant refund acme --reason outage --override "numbers frozen by the carrier 2026-03-02..2026-03-27, ticket 4411"'],
    async run(ctx, args) {
      const tenant = args.positionals[0];
      if (!tenant) throw new UsageError('a tenant (code or id) is required');
      const r = await refundOutage(ctx.services(), ctx.actor, {
        tenant, reason: reqStr(args, 'reason') as 'outage', override: str(args, 'override'),
        waitSeconds: args.opts['wait-seconds'] === undefined ? undefined : int(args, 'wait-seconds', 10, 0, 600),
      });
      const evidence = r.check.eligible
        ? `carrier outage ${iso(r.check.outage.from)} → ${r.check.outage.to ? iso(r.check.outage.to) : 'ongoing'}, ${r.check.outage.workingDays} working days; fault report ${r.check.outage.faultReportId}`
        : `override by ${r.refund.actor}: ${r.refund.override} (outage log: ${r.check.reason})`;
      const text = [
        `refund ${r.refund.id} of ${r.tenant} (art. 5.3): ${evidence}`,
        r.terminated ? `tenant ${r.tenant} terminated (no fee); live calls cut` : `tenant ${r.tenant} was already terminated`,
        ...r.buckets.map((b) => `  paid bucket ${b.bucketId}: ${cny(b.amountFen)} CNY refunded (ledger ${b.ledger})`),
        `refunded ${cny(r.refundedFen)} CNY; gift credit not refunded: ${cny(r.giftFen)} CNY`,
        ...(r.liveCalls > 0 ? [`WARNING ${r.liveCalls} call(s) were still live: what they hold comes back when they end; run this again then to refund it`] : []),
        redisLine(r.redis),
      ].join('\n');
      return { json: r, text };
    },
  },
];
