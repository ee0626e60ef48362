/**
 * Billing operations of the contract's money beyond calls: payments and receivables, and the period jobs
 * (rent, late fees, overdue suspension, low-balance notices, period end) that the scheduler runs and the `billing`
 * CLI commands run by hand. Each is (deps, actor, input) → result; PostgreSQL first (with the audit row of an operator
 * write in the same transaction), then Redis follows (tenant state, credits). Business time is deps.now().
 */
import { withTransaction, type Queryable } from '../db/tx.js';
import { expireBuckets } from '../charging/tenant-sync.js';
import { dayOf } from '../calendar/zone.js';
import { recordAudit } from '../store/audit.js';
import { orderByNo } from '../store/orders.js';
import { listPayments as paymentsOf, owedFen, type Payment, type Receivable } from '../store/receivables.js';
import { listTenants, overdueSuspensionForUpdate, setOverdueSuspendedAt, tenantById, type Tenant } from '../store/tenants.js';
import { accrueLateFees, chargeRent, overdueState, periodEndClearing, type ClearingResult, type OverdueState } from '../tenants/billing.js';
import { checkLowBalance, queueNotice, type LowBalanceCheck } from '../tenants/notices.js';
import { listReceivables as receivablesOf, recordPayment as record, type PaymentResult } from '../tenants/receivables.js';
import { RuleError } from '../tenants/rules.js';
import { syncCredit, type SyncOutcome } from '../tenants/sync.js';
import { getTenant, setTenantStatus } from '../tenants/tenants.js';
import type { Actor, ServiceDeps } from './context.js';
import { calendarOf, followState, requireWriter, tenantFor } from './common.js';

// ------------------------------------------------------------------------------------------------ helpers

// ------------------------------------------------------------------------------------------------ payments

interface PaymentInput {
  tenant: string; // code or id
  amountFen: bigint;
  reference: string; // bank/cash reference; a payment is recorded once per reference
  receivedAt?: Date; // default deps.now()
  memo?: string | null;
  orderNo?: string; // settle only this order's receivables (`order pay`)
}

interface PaymentOutcome extends PaymentResult {
  tenant: string;
  /** the tenant was suspended for overdue debt and this payment cleared it: active again (live from now) */
  reinstated: boolean;
  redis: { credits: SyncOutcome[]; state: SyncOutcome | 'skipped' };
}

/**
 * `softswitch payment record`: record a payment (idempotent by reference), settle receivables oldest first, credit
 * the prepaid packages of orders it pays off, and reinstate a tenant suspended for overdue debt once nothing is
 * overdue any more.
 */
export async function recordPayment(deps: ServiceDeps, actor: Actor, input: PaymentInput): Promise<PaymentOutcome> {
  requireWriter(actor, 'recording a payment');
  const at = input.receivedAt ?? deps.now();
  const out = await withTransaction(deps.pool, async (c) => {
    const t = await tenantFor(c, actor, input.tenant);
    let receivableIds: bigint[] | undefined;
    if (input.orderNo !== undefined) {
      const o = await orderByNo(c, input.orderNo);
      if (!o || o.tenantId !== t.id) throw new RuleError(`no order ${JSON.stringify(input.orderNo)} of tenant ${t.code}`);
      receivableIds = (await receivablesOf(c, t.id, { orderId: o.id, open: true })).map((r) => r.id);
    }
    const p = await record(c, {
      tenantId: t.id, amountFen: input.amountFen, reference: input.reference, receivedAt: at, recordedAt: deps.now(), memo: input.memo ?? null, ...(receivableIds ? { receivableIds } : {}),
    }, deps.config.service.timezone);
    let reinstated: Tenant | null = null;
    if (!p.duplicate) {
      await recordAudit(c, { actor, action: 'payment.record', targetType: 'payment', targetId: p.payment.id, tenantId: t.id, after: p.payment, detail: { allocations: p.allocations } });
      reinstated = await reinstateIfPaid(c, t.id, at, deps.config.service.timezone, actor);
    }
    return { t, p, reinstated };
  });
  const { redis, error } = await deps.redis();
  const credits = await Promise.all(out.p.credits.map((cr) => (redis ? syncCredit(redis, cr) : (`failed: Redis unreachable (${error})` as const))));
  const state = out.reinstated ? await followState(deps, out.reinstated) : 'skipped';
  return { ...out.p, tenant: out.t.code, reinstated: out.reinstated !== null, redis: { credits, state } };
}

/** A tenant suspended by the overdue job, with nothing overdue left at `at`: active again, told so. */
async function reinstateIfPaid(c: Queryable, tenantId: bigint, at: Date, timeZone: string, actor: Actor): Promise<Tenant | null> {
  const cur = await overdueSuspensionForUpdate(c, tenantId);
  if (!cur?.suspendedAt || cur.status !== 'suspended') return null;
  if ((await overdueState(c, tenantId, at, timeZone)).overdueFen > 0n) return null;
  const t = await setTenantStatus(c, tenantId, 'active', 'overdue debt paid');
  await setOverdueSuspendedAt(c, tenantId, null);
  await recordAudit(c, { actor, action: 'tenant.reinstate', targetType: 'tenant', targetId: tenantId, tenantId, before: { status: 'suspended' }, after: { status: 'active' }, detail: { reason: 'overdue debt paid' } });
  await queueNotice(c, tenantId, 'resumed', `resumed:${tenantId}:${at.getTime()}`, { reason: 'overdue debt paid', at: at.toISOString() });
  return t;
}

interface AccountView {
  tenant: string;
  owedFen: bigint;
  overdue: OverdueState;
  receivables: Receivable[];
  payments: Payment[];
}

/** `softswitch receivable list` / `payment list`: what a tenant owes, what is overdue, what it paid. */
export async function showAccount(deps: ServiceDeps, actor: Actor, input: { tenant: string; openOnly?: boolean }): Promise<AccountView> {
  const t = await tenantFor(deps.pool, actor, input.tenant);
  const [receivables, payments, owed, overdue] = await Promise.all([
    receivablesOf(deps.pool, t.id, { open: input.openOnly ?? false }), paymentsOf(deps.pool, t.id), owedFen(deps.pool, t.id),
    overdueState(deps.pool, t.id, deps.now(), deps.config.service.timezone),
  ]);
  return { tenant: t.code, owedFen: owed, overdue, receivables, payments };
}

// ------------------------------------------------------------------------------------------------ period jobs

/** Which tenants a job covers: one (by ref) or every tenant not terminated (and, for `owing` jobs, terminated ones
 * that still owe: arrears stay collectable, art. 7.2). */
export interface JobScope {
  tenant?: string;
  at?: Date; // default deps.now()
}

async function scope(deps: ServiceDeps, actor: Actor, s: JobScope, owing = false): Promise<Tenant[]> {
  requireWriter(actor, 'running a billing job');
  if (s.tenant !== undefined) return [await tenantFor(deps.pool, actor, s.tenant)];
  const out: Tenant[] = [];
  for (const t of await listTenants(deps.pool)) if (t.status !== 'terminated' || (owing && (await owedFen(deps.pool, t.id)) > 0n)) out.push(t);
  return out;
}

export interface TenantReceivables {
  tenant: string;
  issued: Receivable[];
}

/** Rent of every period started so far (idempotent per number and period; catches up after downtime). */
export async function runRent(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<TenantReceivables[]> {
  const at = s.at ?? deps.now();
  const cal = await calendarOf(deps);
  const out: TenantReceivables[] = [];
  for (const t of await scope(deps, actor, s)) out.push({ tenant: t.code, issued: await chargeRent(deps.pool, t.id, at, cal) });
  return out;
}

/** Late fees of every overdue day up to now (idempotent per receivable and day). */
export async function runLateFees(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<TenantReceivables[]> {
  const at = s.at ?? deps.now();
  const cal = await calendarOf(deps);
  const out: TenantReceivables[] = [];
  for (const t of await scope(deps, actor, s, true)) out.push({ tenant: t.code, issued: await accrueLateFees(deps.pool, t.id, at, cal) });
  return out;
}

interface OverdueOutcome {
  tenant: string;
  overdue: OverdueState;
  noticed: string[]; // channels of new overdue notices
  suspended: boolean; // suspended now
  redis: SyncOutcome | 'skipped';
}

/**
 * Overdue debt (art. 3.2): an overdue notice per receivable that fell overdue; a tenant overdue for more than
 * billing.overdueSuspendDays days is suspended (live calls cut, as `tenant suspend`) with a notice. A payment that
 * clears the overdue debt reinstates it (recordPayment).
 */
export async function runOverdue(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<OverdueOutcome[]> {
  const at = s.at ?? deps.now();
  const tz = deps.config.service.timezone;
  const limit = deps.config.billing.overdueSuspendDays;
  const out: OverdueOutcome[] = [];
  for (const t0 of await scope(deps, actor, s, true)) {
    const r = await withTransaction(deps.pool, async (c) => {
      const overdue = await overdueState(c, t0.id, at, tz);
      const noticed: string[] = [];
      // one notice per overdue receivable, not per daily late fee (late fees are receivables too, but telling the tenant
      // each day's fee apart would be a notice a day; they are in the suspension notice's overdue amount and the bill)
      for (const rec of (await receivablesOf(c, t0.id, { open: true })).filter((x) => x.accruesLateFee && x.dueAt.getTime() <= at.getTime())) {
        noticed.push(...await queueNotice(c, t0.id, 'payment_overdue', `payment_overdue:${rec.id}`, {
          receivableId: rec.id.toString(), description: rec.description, outstandingFen: rec.outstandingFen.toString(), dueAt: rec.dueAt.toISOString(),
          lateFee: '3 per mille per day of the overdue amount (art. 3.2)', suspendAfterDays: limit,
        }));
      }
      const cur = (await tenantById(c, t0.id, { forUpdate: true }))!;
      if (overdue.days <= limit || cur.status !== 'active') return { overdue, noticed, suspended: null };
      const reason = `overdue ${overdue.days} days (${overdue.overdueFen} fen unpaid; art. 3.2)`;
      const t = await setTenantStatus(c, t0.id, 'suspended', reason);
      await setOverdueSuspendedAt(c, t0.id, at);
      await recordAudit(c, { actor, action: 'tenant.suspend', targetType: 'tenant', targetId: t0.id, tenantId: t0.id, before: { status: 'active' }, after: { status: 'suspended' }, detail: { reason } });
      await queueNotice(c, t0.id, 'suspended', `suspended:${t0.id}:${at.getTime()}`, { reason, overdueFen: overdue.overdueFen.toString(), payToReinstate: overdue.overdueFen.toString() });
      return { overdue, noticed, suspended: t };
    });
    out.push({ tenant: t0.code, overdue: r.overdue, noticed: r.noticed, suspended: r.suspended !== null, redis: r.suspended ? await followState(deps, r.suspended) : 'skipped' });
  }
  return out;
}

/** The art. 2.2 low-balance check of every active tenant (notices deduplicated per fall below the line). */
export async function runLowBalance(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<(LowBalanceCheck & { tenant: string })[]> {
  const at = s.at ?? deps.now();
  const cal = await calendarOf(deps);
  const out = [];
  for (const t of await scope(deps, actor, s)) {
    if (t.status !== 'active') continue;
    out.push({ tenant: t.code, ...(await checkLowBalance(deps.pool, t.id, { percent: deps.config.charging.lowBalancePercent, at, calendar: cal })) });
  }
  return out;
}

interface ReminderOutcome {
  tenant: string;
  serviceEnd: Date;
  remindOn: string; // YYYY-MM-DD: the 5th working day before the day the service period ends
  noticed: string[]; // channels of a new reminder (empty: not due yet or sent before)
}

/**
 * Renewal reminder (art. 2.3): renewal must be agreed at least 5 working days before the service period ends; on
 * the 5th working day before the day it ends (working-day calendar), or at the first run after, the tenant is
 * reminded, once per service period.
 */
export async function runRenewalReminders(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<ReminderOutcome[]> {
  const at = s.at ?? deps.now();
  const cal = await calendarOf(deps);
  const out: ReminderOutcome[] = [];
  for (const t of await scope(deps, actor, s)) {
    if (!t.serviceEnd || t.serviceEnd.getTime() <= at.getTime()) continue;
    const remindOn = cal.nthWorkingDayBefore(dayOf(t.serviceEnd, cal.timeZone), RENEWAL_WORKING_DAYS);
    if (dayOf(at, cal.timeZone) < remindOn) continue;
    const noticed = await queueNotice(deps.pool, t.id, 'renewal_reminder', `renewal_reminder:${t.id}:${t.serviceEnd.getTime()}`, {
      serviceEnd: t.serviceEnd.toISOString(), agreeRenewalBy: remindOn,
      rule: 'renewal is agreed at least 5 working days before the service period ends; without it service ends at the period end (art. 2.3)',
    });
    out.push({ tenant: t.code, serviceEnd: t.serviceEnd, remindOn, noticed });
  }
  return out;
}

/** Art. 2.3: renewal is agreed at least this many working days before the service period ends. */
const RENEWAL_WORKING_DAYS = 5;

interface PeriodEndOutcome extends ClearingResult {
  tenant: string;
  redis: { state: SyncOutcome; expiry: SyncOutcome };
}

/**
 * Period end (art. 7.2) for tenants whose service period has ended: numbers reclaimed, tenant terminated, and the
 * charging engine clears the remaining balance now (bucket expiry → outbox → ledger expiry_clear). Arrears stay.
 */
export async function runPeriodEnd(deps: ServiceDeps, actor: Actor, s: JobScope = {}): Promise<PeriodEndOutcome[]> {
  const at = s.at ?? deps.now();
  const out: PeriodEndOutcome[] = [];
  for (const t of await scope(deps, actor, s)) {
    const r = await withTransaction(deps.pool, async (c) => {
      const res = await periodEndClearing(c, t.id, at);
      if (res.terminated) {
        await recordAudit(c, { actor, action: 'tenant.period-end', targetType: 'tenant', targetId: t.id, tenantId: t.id, before: { status: t.status }, after: { status: 'terminated' }, detail: { numbersReclaimed: res.numbersReclaimed } });
        await queueNotice(c, t.id, 'period_ended', `period_ended:${t.id}`, { serviceEnd: t.serviceEnd?.toISOString() ?? null, numbersReclaimed: res.numbersReclaimed, owedFen: (await owedFen(c, t.id)).toString() });
      }
      return res;
    });
    if (!r.terminated) continue;
    const state = await followState(deps, await getTenant(deps.pool, t.id));
    const { redis, error } = await deps.redis();
    let expiry: SyncOutcome = `failed: Redis unreachable (${error})`;
    if (redis) {
      try {
        await expireBuckets(redis, t.id.toString(), at.getTime());
        expiry = 'applied';
      } catch (e) {
        expiry = `failed: ${(e as Error).message}`;
      }
    }
    out.push({ tenant: t.code, ...r, redis: { state, expiry } });
  }
  return out;
}
