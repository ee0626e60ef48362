/**
 * Low-balance notice (art. 2.2): when a tenant's usable prepaid balance is below percent% of the prepaid credit of
 * its usable buckets, or below one month of fees of the active order, write one notification row per channel
 * (e-mail, SMS, webhook; 'log' when none is configured). Deduplicated per "episode": the key carries the id of the
 * latest credit, so a tenant is told once per fall below the line, and again only after a top-up and a new fall.
 * Sending is the notifier's job (rows with sent_at null); the row holds the amount due and the 3-working-day term.
 */
import type { Queryable } from '../ledger/ledger.js';
import { monthlyFeeFen } from '../billing/contract.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { activeOrder } from './orders.js';
import { amountDueFen, lowBalanceReasons, remainingMonthsCeil, RuleError, type LowBalanceReason } from './rules.js';

export const TOP_UP_TERM_WORKING_DAYS = 3;

export interface LowBalanceCheck {
  tenantId: bigint;
  balanceFen: bigint;
  totalPrepaidFen: bigint;
  monthlyFeeFen: bigint;
  reasons: LowBalanceReason[];
  remainingMonths: number;
  amountDueFen: bigint;
  notified: string[]; // channels with a new notification row (empty when not low or already notified)
}

/** With notify false only the figures are computed (what the portal's low-balance banner shows); nothing is written. */
export async function checkLowBalance(db: Queryable, tenantId: bigint, opts: { percent: number; at: Date; calendar: WorkingCalendar; notify?: boolean }): Promise<LowBalanceCheck> {
  const timeZone = opts.calendar.timeZone;
  const t = (await db.query<{ service_end: Date | null }>('select service_end from tenants where id = $1', [tenantId.toString()])).rows[0];
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  const sums = (await db.query<{ balance: bigint; prepaid: bigint; last_credit: bigint | null }>(
    `select coalesce(sum(a.credits_posted - a.debits_posted), 0)::int8 as balance,
            coalesce(sum((select sum(tr.amount_fen) from ledger_transfers tr where tr.credit_account_id = a.id and tr.kind in ('top_up', 'gift'))), 0)::int8 as prepaid,
            (select max(tr.id) from ledger_transfers tr join ledger_accounts a2 on a2.id = tr.credit_account_id
               join balance_buckets b2 on b2.id = a2.bucket_id where b2.tenant_id = $1 and tr.kind in ('top_up', 'gift')) as last_credit
       from balance_buckets b join ledger_accounts a on a.bucket_id = b.id
      where b.tenant_id = $1 and b.valid_from <= $2 and (b.expires_at is null or b.expires_at > $2)`,
    [tenantId.toString(), opts.at],
  )).rows[0]!;
  const order = await activeOrder(db, tenantId);
  const monthly = order ? monthlyFeeFen(order) : 0n;
  const reasons = sums.prepaid > 0n || monthly > 0n
    ? lowBalanceReasons({ balanceFen: sums.balance, totalPrepaidFen: sums.prepaid, monthlyFeeFen: monthly, percent: opts.percent })
    : [];
  const remainingMonths = t.service_end ? remainingMonthsCeil(opts.at, t.service_end, timeZone) : 0;
  const due = amountDueFen(monthly, remainingMonths);
  const result: LowBalanceCheck = {
    tenantId, balanceFen: sums.balance, totalPrepaidFen: sums.prepaid, monthlyFeeFen: monthly, reasons, remainingMonths, amountDueFen: due, notified: [],
  };
  if (reasons.length === 0 || opts.notify === false) return result;
  const payload = {
    balanceFen: sums.balance.toString(), totalPrepaidFen: sums.prepaid.toString(), monthlyFeeFen: monthly.toString(), reasons,
    remainingMonths, amountDueFen: due.toString(), topUpBy: opts.calendar.termEnd(opts.at, TOP_UP_TERM_WORKING_DAYS).toISOString(),
  };
  result.notified = await queueNotice(db, tenantId, 'low_balance', `low_balance:${tenantId}:${sums.last_credit ?? 0}`, payload);
  return result;
}

export type NoticeKind = 'low_balance' | 'payment_overdue' | 'suspended' | 'resumed' | 'renewal_reminder' | 'period_ended' | 'terminated' | 'refund';

/**
 * Queue a notice to a tenant: one `notifications` row per channel it has (e-mail, SMS, webhook; 'log' when none),
 * deduplicated by `dedupe` (+ channel), so a job that runs again never tells twice. src/notify sends the rows.
 * Returns the channels with a new row.
 */
export async function queueNotice(db: Queryable, tenantId: bigint, kind: NoticeKind, dedupe: string, payload: Record<string, unknown>): Promise<string[]> {
  const t = (await db.query<{ notify_email: string | null; notify_sms: string | null; notify_webhook: string | null }>(
    'select notify_email, notify_sms, notify_webhook from tenants where id = $1', [tenantId.toString()],
  )).rows[0];
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  const channels: [string, string | null][] = [['email', t.notify_email], ['sms', t.notify_sms], ['webhook', t.notify_webhook]];
  const targets = channels.filter(([, to]) => to);
  if (targets.length === 0) targets.push(['log', null]);
  const notified: string[] = [];
  for (const [channel, to] of targets) {
    const r = await db.query(
      `insert into notifications (tenant_id, kind, channel, dedupe_key, payload) values ($1, $2, $3, $4, $5) on conflict (dedupe_key) do nothing`,
      [tenantId.toString(), kind, channel, `${dedupe}:${channel}`, JSON.stringify({ ...payload, to })],
    );
    if (r.rowCount === 1) notified.push(channel);
  }
  return notified;
}
