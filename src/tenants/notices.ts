/**
 * Low-balance notice (art. 2.2): when a tenant's usable prepaid balance is below percent% of the prepaid credit of
 * its usable buckets, or below one month of fees of the active order, write one notification row per channel
 * (e-mail, SMS, webhook; 'log' when none is configured). Deduplicated per "episode": the key carries the id of the
 * latest credit, so a tenant is told once per fall below the line, and again only after a top-up and a new fall.
 * Sending is the notifier's job (rows with sent_at null); the row holds the amount due and the 3-working-day term.
 */
import type { Queryable } from '../db/tx.js';
import { monthlyFeeFen } from '../billing/contract.js';
import type { WorkingCalendar } from '../calendar/calendar.js';
import { usableCreditSums } from '../store/buckets.js';
import { insertNotice } from '../store/notices.js';
import { activeOrder } from '../store/orders.js';
import { tenantById } from '../store/tenants.js';
import { amountDueFen, lowBalanceReasons, remainingMonthsCeil, RuleError, type LowBalanceReason } from './rules.js';

const TOP_UP_TERM_WORKING_DAYS = 3;

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
  const t = await tenantById(db, tenantId);
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  const sums = await usableCreditSums(db, tenantId, opts.at);
  const order = await activeOrder(db, tenantId);
  const monthly = order ? monthlyFeeFen(order) : 0n;
  const reasons = sums.prepaidFen > 0n || monthly > 0n
    ? lowBalanceReasons({ balanceFen: sums.balanceFen, totalPrepaidFen: sums.prepaidFen, monthlyFeeFen: monthly, percent: opts.percent })
    : [];
  const remainingMonths = t.serviceEnd ? remainingMonthsCeil(opts.at, t.serviceEnd, timeZone) : 0;
  const due = amountDueFen(monthly, remainingMonths);
  const result: LowBalanceCheck = {
    tenantId, balanceFen: sums.balanceFen, totalPrepaidFen: sums.prepaidFen, monthlyFeeFen: monthly, reasons, remainingMonths, amountDueFen: due, notified: [],
  };
  if (reasons.length === 0 || opts.notify === false) return result;
  const payload = {
    balanceFen: sums.balanceFen.toString(), totalPrepaidFen: sums.prepaidFen.toString(), monthlyFeeFen: monthly.toString(), reasons,
    remainingMonths, amountDueFen: due.toString(), topUpBy: opts.calendar.termEnd(opts.at, TOP_UP_TERM_WORKING_DAYS).toISOString(),
  };
  result.notified = await queueNotice(db, tenantId, 'low_balance', `low_balance:${tenantId}:${sums.lastCreditId ?? 0}`, payload);
  return result;
}

type NoticeKind = 'low_balance' | 'payment_overdue' | 'suspended' | 'resumed' | 'renewal_reminder' | 'period_ended' | 'terminated' | 'refund';

/**
 * Queue a notice to a tenant: one `notifications` row per channel it has (e-mail, SMS, webhook; 'log' when none),
 * deduplicated by `dedupe` (+ channel), so a job that runs again never tells twice. src/notify sends the rows.
 * Returns the channels with a new row.
 */
export async function queueNotice(db: Queryable, tenantId: bigint, kind: NoticeKind, dedupe: string, payload: Record<string, unknown>): Promise<string[]> {
  const t = await tenantById(db, tenantId);
  if (!t) throw new RuleError(`no tenant ${tenantId}`);
  const channels: [string, string | null][] = [['email', t.notifyEmail], ['sms', t.notifySms], ['webhook', t.notifyWebhook]];
  const targets = channels.filter(([, to]) => to);
  if (targets.length === 0) targets.push(['log', null]);
  const notified: string[] = [];
  for (const [channel, to] of targets) {
    if (await insertNotice(db, { tenantId, kind, channel, dedupeKey: `${dedupe}:${channel}`, payload: { ...payload, to } })) notified.push(channel);
  }
  return notified;
}
