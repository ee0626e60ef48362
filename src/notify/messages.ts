/**
 * The words of tenant notices (no I/O): subject and text of each notice kind in Chinese and English, from the payload
 * the billing code stored on the `notifications` row. E-mail gets subject + text; SMS gets the short text. Amounts are
 * the payload's fen printed as CNY with 2 decimals (no rounding happens here); times in the service zone.
 */
import { fenToCny } from '../money/units.js';
import { wallClock } from '../calendar/zone.js';

export type NoticeLanguage = 'zh' | 'en';

interface NoticeText {
  subject: string;
  /** body of the e-mail */
  text: string;
  /** the SMS: one line */
  sms: string;
}

interface NoticeContext {
  kind: string;
  tenantCode: string;
  legalName: string;
  payload: Record<string, unknown>;
  language: NoticeLanguage;
  timeZone: string;
  notificationId: string;
}

/** "1234567" fen → "12,345.67" */
export function cny(fen: unknown): string {
  const s = typeof fen === 'string' || typeof fen === 'number' || typeof fen === 'bigint' ? fen.toString() : '';
  if (!/^-?[0-9]+$/.test(s)) return '?';
  const [int, dec] = fenToCny(BigInt(s)).split('.');
  const neg = int!.startsWith('-');
  const digits = neg ? int!.slice(1) : int!;
  return `${neg ? '-' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${dec}`;
}

/** An ISO instant as YYYY-MM-DD HH:MM in the service zone ('?' when absent). */
export function when(iso: unknown, timeZone: string): string {
  if (typeof iso !== 'string') return '?';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '?';
  const w = wallClock(d, timeZone);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${w.y}-${p(w.m)}-${p(w.d)} ${p(w.hh)}:${p(w.mi)}`;
}

/** A deadline instant: one at midnight is written as 24:00 of the day before ("by 2026-03-26 24:00", the end of
 * the last day of a term), so the tenant reads the last day it has, not the first day it is late. */
export function deadline(iso: unknown, timeZone: string): string {
  if (typeof iso !== 'string') return '?';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '?';
  const w = wallClock(d, timeZone);
  if (w.hh !== 0 || w.mi !== 0 || w.ss !== 0 || w.ms !== 0) return when(iso, timeZone);
  return `${when(new Date(d.getTime() - 1).toISOString(), timeZone).slice(0, 10)} 24:00`;
}

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?');

type Words = (p: Record<string, unknown>, at: (iso: unknown) => string, by: (iso: unknown) => string) => { subject: string; lines: string[] };

const ZH: Record<string, Words> = {
  low_balance: (p, _at, by) => ({
    subject: '余额不足提醒',
    lines: [`您的预付费余额为 ${cny(p.balanceFen)} 元，已低于合同约定的提醒线（第 2.2 条）。`,
      `应充值金额：${cny(p.amountDueFen)} 元（月最低消费 ${cny(p.monthlyFeeFen)} 元 × 剩余 ${str(p.remainingMonths)} 个月，不足一月按一月计）。`,
      `请于 ${by(p.topUpBy)}（北京时间）前充值。`],
  }),
  payment_overdue: (p, _at, by) => ({
    subject: '款项逾期提醒',
    lines: [`${str(p.description)}：未付 ${cny(p.outstandingFen)} 元，付款期限 ${by(p.dueAt)} 已过。`,
      '逾期款项按每日千分之三计收滞纳金（第 3.2 条）。', `逾期超过 ${str(p.suspendAfterDays)} 天将暂停服务。`],
  }),
  suspended: (p) => ({
    subject: '服务已暂停',
    lines: [`因款项逾期，您的服务已暂停（第 3.2 条）。逾期未付 ${cny(p.overdueFen)} 元。`, `付清 ${cny(p.payToReinstate)} 元后服务立即恢复。`],
  }),
  resumed: (p, at) => ({ subject: '服务已恢复', lines: [`逾期款项已付清，您的服务已于 ${at(p.at)} 恢复。`] }),
  renewal_reminder: (p, at) => ({
    subject: '续约提醒',
    lines: [`您的服务期将于 ${at(p.serviceEnd)} 结束。`, `如需续约，请于 ${str(p.agreeRenewalBy)} 前（服务期结束前 5 个工作日，第 2.3 条）与我们确认；未续约的，服务期满即终止。`],
  }),
  period_ended: (p, at) => ({
    subject: '服务期已结束',
    lines: [`您的服务期已于 ${at(p.serviceEnd)} 结束，号码已收回，剩余余额按约清零（第 7.2 条）。`, `尚欠款项：${cny(p.owedFen)} 元。`],
  }),
  terminated: (p, _at, by) => ({
    subject: '合同提前终止',
    lines: [`合同 ${str(p.orderNo)} 已提前终止。合同金额 ${cny(p.contractValueFen)} 元，提前终止违约金 ${cny(p.earlyTerminationFeeFen)} 元（30%，第 4.6 条）。`,
      `请于 ${by(p.payBy)} 前付清；尚欠合计 ${cny(p.owedFen)} 元。`],
  }),
  refund: (p) => ({
    subject: '退款通知',
    lines: [`因运营商故障（第 5.3 条），已退还您的已付余额 ${cny(p.refundedFen)} 元；赠送余额 ${cny(p.giftFenNotRefunded)} 元不予退还。`],
  }),
};

const EN: Record<string, Words> = {
  low_balance: (p, _at, by) => ({
    subject: 'Low balance',
    lines: [`Your prepaid balance is CNY ${cny(p.balanceFen)}, below the line of the contract (art. 2.2).`,
      `Amount due: CNY ${cny(p.amountDueFen)} (monthly minimum CNY ${cny(p.monthlyFeeFen)} x ${str(p.remainingMonths)} remaining months; a part month counts as a whole month).`,
      `Please top up by ${by(p.topUpBy)} (China time).`],
  }),
  payment_overdue: (p, _at, by) => ({
    subject: 'Payment overdue',
    lines: [`${str(p.description)}: CNY ${cny(p.outstandingFen)} unpaid, due by ${by(p.dueAt)}.`,
      'Overdue amounts bear a late fee of 3 per mille per day (art. 3.2).', `Service is suspended when overdue for more than ${str(p.suspendAfterDays)} days.`],
  }),
  suspended: (p) => ({
    subject: 'Service suspended',
    lines: [`Your service is suspended for an overdue payment (art. 3.2): CNY ${cny(p.overdueFen)} overdue.`, `Paying CNY ${cny(p.payToReinstate)} reinstates it at once.`],
  }),
  resumed: (p, at) => ({ subject: 'Service reinstated', lines: [`The overdue amount is paid; your service is active again since ${at(p.at)}.`] }),
  renewal_reminder: (p, at) => ({
    subject: 'Renewal reminder',
    lines: [`Your service period ends ${at(p.serviceEnd)}.`, `To renew, please agree the renewal with us by ${str(p.agreeRenewalBy)} (5 working days before the end, art. 2.3); without renewal the service ends with the period.`],
  }),
  period_ended: (p, at) => ({
    subject: 'Service period ended',
    lines: [`Your service period ended ${at(p.serviceEnd)}: numbers reclaimed, remaining balance cleared (art. 7.2).`, `Still owed: CNY ${cny(p.owedFen)}.`],
  }),
  terminated: (p, _at, by) => ({
    subject: 'Contract terminated early',
    lines: [`Contract ${str(p.orderNo)} is terminated early. Contract value CNY ${cny(p.contractValueFen)}; early-termination fee CNY ${cny(p.earlyTerminationFeeFen)} (30%, art. 4.6).`,
      `Please pay by ${by(p.payBy)}; owed in total: CNY ${cny(p.owedFen)}.`],
  }),
  refund: (p) => ({
    subject: 'Refund',
    lines: [`After the carrier outage (art. 5.3) your paid balance of CNY ${cny(p.refundedFen)} is refunded; gift credit of CNY ${cny(p.giftFenNotRefunded)} is not refunded.`],
  }),
};

/** Subject, e-mail text and SMS text of a notice. An unknown kind still gets a generic text (nothing is lost). */
export function renderNotice(n: NoticeContext): NoticeText {
  const words = (n.language === 'en' ? EN : ZH)[n.kind];
  const at = (iso: unknown) => when(iso, n.timeZone);
  const by = (iso: unknown) => deadline(iso, n.timeZone);
  const w = words ? words(n.payload, at, by) : { subject: n.language === 'en' ? `Notice: ${n.kind}` : `通知：${n.kind}`, lines: [JSON.stringify(n.payload)] };
  const subject = n.language === 'en' ? `[${n.tenantCode}] ${w.subject}` : `【${n.tenantCode}】${w.subject}`;
  const greeting = n.language === 'en' ? `Dear ${n.legalName},` : `${n.legalName}：`;
  const ref = n.language === 'en' ? `Notice no. ${n.notificationId}` : `通知编号 ${n.notificationId}`;
  return {
    subject,
    text: [greeting, '', ...w.lines, '', ref, ''].join('\n'),
    sms: `${subject} ${w.lines.join(' ')}`,
  };
}
