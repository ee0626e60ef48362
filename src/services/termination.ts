/**
 * Ending a contract before its period end:
 * - `softswitch tenant terminate --early` (art. 4.6): the tenant cancels an effective contract and owes 30% of the
 *   contract value as a receivable (due in 3 working days, bears late fees); service ends now.
 * - `softswitch tenant refund --reason outage` (art. 5.3): after a carrier outage of more than 15 consecutive working
 *   days (outage log + an on-time fault report, or an operator's recorded override) the tenant terminates without a
 *   fee and gets its remaining PAID balance back; gift credit is not refunded.
 * Both: PostgreSQL first (termination record, tenant terminated, numbers reclaimed, audit, notice in one
 * transaction), then Redis (tenant state → live calls cut on every SIP instance). Business time is deps.now().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { withTransaction, type Queryable } from '../db/tx.js';
import { earlyTerminationFeeFen } from '../billing/contract.js';
import { PAYMENT_TERM_WORKING_DAYS } from '../billing/late-fee.js';
import type { OutageRefundCheck } from '../billing/outage.js';
import { refundPaid } from '../charging/tenant-sync.js';
import { earlyTerminationKey } from '../ledger/keys.js';
import { writeEvent } from '../outbox/cdr-writer.js';
import { recordAudit } from '../store/audit.js';
import { reclaimNumbers } from '../store/numbers.js';
import { activeOrder, orderById } from '../store/orders.js';
import { owedFen, receivableAmount, type Receivable } from '../store/receivables.js';
import { findTermination, insertTermination, type Termination } from '../store/terminations.js';
import { tenantById, type Tenant } from '../store/tenants.js';
import { queueNotice } from '../tenants/notices.js';
import { issueReceivable } from '../tenants/receivables.js';
import { RuleError } from '../tenants/rules.js';
import type { SyncOutcome } from '../tenants/sync.js';
import { listRefundRows, recordRefund, type Refund } from '../tenants/termination.js';
import { getTenant, setTenantStatus } from '../tenants/tenants.js';
import { fenToCny } from '../money/units.js';
import { calendarOf, followState, requireWriter, tenantFor } from './common.js';
import type { Actor, ServiceDeps } from './context.js';
import { outageRefundCheck } from './outages.js';


const actorText = (a: Actor): string => `${a.kind}:${a.id}`;

/** Terminate in PostgreSQL (inside the caller's transaction): status, numbers reclaimed, termination row. */
async function terminate(c: Queryable, t: Tenant, rec: Omit<Termination, 'id' | 'tenantId'>): Promise<{ tenant: Tenant; termination: Termination; numbersReclaimed: number }> {
  const tenant = await setTenantStatus(c, t.id, 'terminated', rec.reason);
  const numbersReclaimed = await reclaimNumbers(c, t.id, rec.reason);
  const termination = await insertTermination(c, { tenantId: t.id, ...rec });
  return { tenant, termination, numbersReclaimed };
}

// ------------------------------------------------------------------------------------------------ art. 4.6

interface EarlyTerminationInput {
  tenant: string; // code or id
  reason?: string; // kept on the tenant and the termination record
}

interface EarlyTerminationOutcome {
  tenant: string;
  /** this tenant was already terminated early: nothing changed, the first termination is returned */
  duplicate: boolean;
  termination: Termination;
  orderNo: string;
  /** the contract value (标的额): the contract total of the order in force (order 1(3)) */
  contractValueFen: bigint;
  /** 30% of it, rounded down to the fen (art. 4.6) */
  feeFen: bigint;
  fee: Receivable | null;
  numbersReclaimed: number;
  owedFen: bigint;
  redis: SyncOutcome | 'skipped';
}

/**
 * `softswitch tenant terminate --early` (art. 4.6): the tenant cancels its effective contract. The fee is 30% of the
 * contract value = the contract total of the order in force (prepaid packages + number rent over the whole service
 * period, order 1(3); demo 11,420.00 → 3,426.00), rounded down to the fen, issued as a receivable due in 3 working
 * days (late fees after that). The tenant is terminated now: live calls cut, numbers reclaimed (no further rent;
 * rent already billed in advance stays owed). Its balance is not refunded: it stays in its buckets, unusable, and is
 * cleared at its expiry (the end of the service period, art. 7.2), kept in the ledger. Idempotent per tenant.
 */
export async function terminateEarly(deps: ServiceDeps, actor: Actor, input: EarlyTerminationInput): Promise<EarlyTerminationOutcome> {
  requireWriter(actor, 'early termination');
  const at = deps.now();
  const cal = await calendarOf(deps);
  const r = await withTransaction(deps.pool, async (c) => {
    const t0 = await tenantFor(c, actor, input.tenant);
    await tenantById(c, t0.id, { forUpdate: true });
    const prior = await findTermination(c, t0.id);
    if (prior) {
      if (prior.kind !== 'early') throw new RuleError(`tenant ${t0.code} was already terminated (${prior.kind}, ${prior.at.toISOString()})`);
      // an early termination always has its order (terminateEarly refuses a tenant without one)
      const order = (await orderById(c, prior.orderId!))!;
      const feeFen = prior.feeReceivableId === null ? 0n : (await receivableAmount(c, prior.feeReceivableId)) ?? 0n;
      return { duplicate: true as const, t: t0, termination: prior, orderNo: order.orderNo, feeFen, fee: null, numbersReclaimed: 0 };
    }
    const t = await getTenant(c, t0.id);
    if (t.status === 'terminated') throw new RuleError(`tenant ${t.code} is already terminated (${t.statusReason ?? 'no reason'})`);
    if (t.serviceEnd && t.serviceEnd.getTime() <= at.getTime()) throw new RuleError(`the service period of ${t.code} ended at ${t.serviceEnd.toISOString()}: that is the period end (art. 7.2), not an early termination`);
    const order = await activeOrder(c, t.id);
    if (!order) throw new RuleError(`tenant ${t.code} has no order in force: no contract value to charge 30% of`);
    const feeFen = earlyTerminationFeeFen(order.totalFen);
    const reason = input.reason?.trim() || 'early termination by the tenant (art. 4.6)';
    const fee = feeFen > 0n
      ? (await issueReceivable(c, {
        tenantId: t.id, kind: 'early_termination', amountFen: feeFen, issuedAt: at, dueAt: cal.termEnd(at, PAYMENT_TERM_WORKING_DAYS),
        key: earlyTerminationKey(order.orderNo), orderId: order.id,
        description: `early termination fee (art. 4.6): 30% of the contract value ${fenToCny(order.totalFen)} CNY of order ${order.orderNo}`,
      })).receivable
      : null;
    const done = await terminate(c, t, { kind: 'early', at, orderId: order.id, contractValueFen: order.totalFen, feeReceivableId: fee?.id ?? null, reason, actor: actorText(actor) });
    await recordAudit(c, {
      actor, action: 'tenant.terminate-early', targetType: 'tenant', targetId: t.id, tenantId: t.id, before: { status: t.status }, after: { status: 'terminated' },
      detail: { orderNo: order.orderNo, contractValueFen: order.totalFen, feeFen, feeReceivableId: fee?.id ?? null, numbersReclaimed: done.numbersReclaimed, reason },
    });
    await queueNotice(c, t.id, 'terminated', `terminated:${t.id}`, {
      reason, orderNo: order.orderNo, contractValueFen: order.totalFen.toString(), earlyTerminationFeeFen: feeFen.toString(),
      payBy: fee?.dueAt.toISOString() ?? null, owedFen: (await owedFen(c, t.id)).toString(),
    });
    return { duplicate: false as const, t: done.tenant, termination: done.termination, orderNo: order.orderNo, feeFen, fee, numbersReclaimed: done.numbersReclaimed };
  });
  const redis = r.duplicate ? 'skipped' : await followState(deps, r.t);
  return {
    tenant: r.t.code, duplicate: r.duplicate, termination: r.termination, orderNo: r.orderNo, contractValueFen: r.termination.contractValueFen ?? 0n,
    feeFen: r.feeFen, fee: r.fee, numbersReclaimed: r.numbersReclaimed, owedFen: await owedFen(deps.pool, r.t.id), redis,
  };
}

// ------------------------------------------------------------------------------------------------ art. 5.3

interface OutageRefundInput {
  tenant: string; // code or id
  reason: 'outage';
  /**
   * Refund although the outage log does not show the art. 5.3 outage (e.g. a number frozen by the carrier, which no
   * health check sees): the operator's reason, kept on the refund and in the audit log.
   */
  override?: string;
  /** how long to wait for the tenant's live calls to end (cut by the termination) before refunding; default 10 */
  waitSeconds?: number;
}

interface OutageRefundOutcome {
  tenant: string;
  refund: Refund;
  check: OutageRefundCheck;
  /** terminated by this run (false: it was terminated before) */
  terminated: boolean;
  refundedFen: bigint;
  /** per paid bucket: the refund transfer, 'written' now or 'pending' (the outbox consumer writes it) */
  buckets: { bucketId: string; amountFen: bigint; ledger: 'written' | 'pending' }[];
  /** gift credit left (not refundable; cleared at its expiry) */
  giftFen: bigint;
  /** live calls still holding credit when the refund ran (their SIP instance did not end them in time): what they
   * hold returns to the balance when they settle; run the refund again then to refund it */
  liveCalls: number;
  redis: SyncOutcome | 'skipped';
}

export const OVERRIDE_MAX = 500;

/**
 * `softswitch tenant refund --reason outage` (art. 5.3). Eligibility is checked from the outage log: a carrier
 * outage (every enabled gateway down) that touched more than 15 working days of the tenant's service period, and a
 * fault the tenant found during it and reported on time (art. 5.2). Without that evidence the refund is refused
 * unless the operator gives `override` (kept with the refund and audited).
 *
 * Order: (1) PostgreSQL: the refund record, the tenant terminated (if not already; no fee), numbers reclaimed,
 * audit, one transaction; (2) Redis: tenant state terminated, so every SIP instance cuts the tenant's live calls
 * (a call in progress is cut at once and settled: its seconds so far are charged, the rest of its hold returns to
 * the balance); (3) wait up to waitSeconds for those calls to settle; (4) refund.lua zeroes every paid bucket and
 * writes one bucket.refunded outbox event per bucket in one atomic step; (5) each event is written to the ledger
 * now (kind 'refund', bucket → cash; the outbox consumer finds it done) so the command reports final figures.
 * Redis unreachable: refused before anything is changed. Running it again refunds only what came back since.
 */
export async function refundOutage(deps: ServiceDeps, actor: Actor, input: OutageRefundInput): Promise<OutageRefundOutcome> {
  requireWriter(actor, 'a refund');
  if (input.reason !== 'outage') throw new RuleError(`refund reason must be outage (art. 5.3), got ${JSON.stringify(input.reason)}`);
  const override = input.override?.trim();
  if (override !== undefined && (override.length === 0 || override.length > OVERRIDE_MAX)) throw new RuleError(`an override reason is 1-${OVERRIDE_MAX} characters`);
  const at = deps.now();
  const cal = await calendarOf(deps);
  const t0 = await tenantFor(deps.pool, actor, input.tenant);
  const check = await outageRefundCheck(deps.pool, t0, at, cal);
  if (!check.eligible && override === undefined) {
    throw new RuleError(`no outage refund for ${t0.code}: ${check.reason} (art. 5.3). To refund on other evidence, give --override "<why>" (recorded)`);
  }
  const { redis, error } = await deps.redis();
  if (!redis) throw new RuleError(`Redis is unreachable (${error}): the paid balance lives there; nothing was changed`);
  const reason = 'terminated after a carrier outage (art. 5.3)';
  const r = await withTransaction(deps.pool, async (c) => {
    const t = await getTenant(c, t0.id);
    await tenantById(c, t.id, { forUpdate: true });
    const refund = await recordRefund(c, {
      tenantId: t.id, reason: 'outage', requestedAt: at, outage: check.eligible ? check.outage : null, override: override ?? null, actor: actorText(actor),
    });
    let tenant = t;
    let terminated = false;
    if (t.status !== 'terminated') {
      tenant = (await terminate(c, t, { kind: 'outage', at, orderId: (await activeOrder(c, t.id))?.id ?? null, contractValueFen: null, feeReceivableId: null, reason, actor: actorText(actor) })).tenant;
      terminated = true;
    }
    await recordAudit(c, {
      actor, action: 'tenant.refund', targetType: 'refund', targetId: refund.id, tenantId: t.id, before: { status: t.status }, after: { status: 'terminated' },
      detail: { reason: 'outage', evidence: check.eligible ? check.outage : null, override: override ?? null, notEligibleBecause: check.eligible ? null : check.reason },
    });
    return { tenant, refund, terminated };
  });
  const tenantId = r.tenant.id.toString();
  const state = await followState(deps, r.tenant);
  // the terminate control message makes each SIP instance cut the tenant's calls; each settles and leaves the set
  const deadline = (input.waitSeconds ?? 10) * 10;
  for (let i = 0; i < deadline && (await redis.scard(redis.layout.calls(tenantId))) > 0; i++) await sleep(100);
  const paid = await refundPaid(deps.pool, redis, tenantId, r.refund.id.toString(), at.getTime());
  const buckets: OutageRefundOutcome['buckets'] = [];
  for (const b of paid.buckets) {
    let ledger: 'written' | 'pending' = 'pending';
    try {
      await writeEvent(deps.pool, { eventId: b.eventId, type: 'bucket.refunded', at: at.getTime(), tenantId, bucketId: b.bucketId, amountFen: b.amountFen }, b.streamId, deps.logger);
      ledger = 'written';
    } catch (e) {
      deps.logger.warn({ err: e, eventId: b.eventId }, 'refund transfer not written now; the outbox consumer writes it');
    }
    buckets.push({ bucketId: b.bucketId, amountFen: b.amountFen, ledger });
  }
  const refundedFen = paid.buckets.reduce((s, b) => s + b.amountFen, 0n);
  const gift = await redis.hgetall(redis.layout.buckets(tenantId));
  const meta = await redis.hgetall(redis.layout.bucketMeta(tenantId));
  const giftFen = Object.entries(gift).filter(([id]) => meta[id]?.startsWith('gift|')).reduce((s, [, v]) => s + BigInt(v), 0n);
  await queueNotice(deps.pool, r.tenant.id, 'refund', `refund:${r.refund.id}`, {
    refundId: r.refund.id.toString(), refundedFen: refundedFen.toString(), giftFenNotRefunded: giftFen.toString(), terminated: true,
    rule: 'an outage of more than 15 consecutive working days: the paid balance is refunded, gift credit excluded (art. 5.3)',
  }).catch((e: unknown) => deps.logger.warn({ err: e }, 'refund notice not queued'));
  const refund = (await listRefundRows(deps.pool, r.tenant.id)).find((x) => x.id === r.refund.id)!;
  return { tenant: r.tenant.code, refund, check, terminated: r.terminated, refundedFen, buckets, giftFen, liveCalls: paid.liveCalls, redis: state };
}

/** A tenant's refund runs with their ledger transfers (a tenant sees its own). */
export async function listRefunds(deps: ServiceDeps, actor: Actor, input: { tenant: string }): Promise<Refund[]> {
  const t = await tenantFor(deps.pool, actor, input.tenant);
  return listRefundRows(deps.pool, t.id);
}
