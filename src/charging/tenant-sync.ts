/**
 * The Redis side of tenants: credits, tenant state, cold load from PostgreSQL, and the control
 * channel on which SIP instances learn at once that a tenant was suspended/terminated/resumed or credited.
 * PostgreSQL is written first by the callers (CLI); these functions make Redis follow.
 */
import type { Pool } from '../db/pool.js';
import { refundKey } from '../ledger/keys.js';
import { timed } from '../observability/metrics.js';
import { chargingSnapshot } from '../store/buckets.js';
import { bucketMeta, controlChannel } from './keys.js';
import { duplicateConnection, durably, waitReady, type ChargingRedis } from './redis.js';

export type ControlAction = 'suspend' | 'resume' | 'terminate' | 'credit';
export interface ControlMessage {
  tenantId: string;
  action: ControlAction;
}

const DIGITS = /^[0-9]{1,19}$/;
function checkId(what: string, v: string): void {
  if (!DIGITS.test(v)) throw new RangeError(`${what} must be a decimal id, got ${JSON.stringify(v)}`);
}

async function publish(redis: ChargingRedis, msg: ControlMessage): Promise<void> {
  await redis.publish(controlChannel(redis.keyPrefix), JSON.stringify(msg));
}

/** Add a top-up/gift to a bucket in Redis, once per ledger transfer id; true if applied now. Live calls of the
 * tenant are told (control 'credit') so that calls at their final grant ask for more within a second. */
export async function applyCredit(
  redis: ChargingRedis,
  c: { tenantId: string; bucketId: string; kind: 'paid' | 'gift'; amountFen: bigint; validFrom: Date; expiresAt: Date | null; transferId: string },
): Promise<boolean> {
  checkId('tenantId', c.tenantId);
  checkId('bucketId', c.bucketId);
  if (c.amountFen <= 0n) throw new RangeError(`credit amount must be > 0 fen, got ${c.amountFen}`);
  if (!c.transferId) throw new RangeError('transferId is required (idempotency)');
  const t = c.tenantId;
  const k = redis.layout;
  const applied = await timed('redis', 'charging_credit', () => redis.chargeCredit(k.buckets(t), k.bucketMeta(t), k.credits(t), k.creditAmounts(t), k.expiries(k.shardOfTenant(t)),
    c.bucketId, c.amountFen.toString(), bucketMeta(c.kind, c.validFrom, c.expiresAt), c.transferId, t));
  if (applied === 1) await publish(redis, { tenantId: t, action: 'credit' });
  return applied === 1;
}

const ACTION = { active: 'resume', suspended: 'suspend', terminated: 'terminate' } as const;

/** Write the tenant's status, service period and rate plan; publish the matching control action. */
export async function setTenantState(
  redis: ChargingRedis,
  s: { tenantId: string; status: 'active' | 'suspended' | 'terminated'; serviceStart: Date | null; serviceEnd: Date | null; ratePlanId: string | null },
): Promise<void> {
  checkId('tenantId', s.tenantId);
  if (!(s.status in ACTION)) throw new RangeError(`unknown tenant status ${JSON.stringify(s.status)}`);
  await redis.hset(redis.layout.tenant(s.tenantId), {
    status: s.status,
    start: s.serviceStart ? String(s.serviceStart.getTime()) : '',
    end: s.serviceEnd ? String(s.serviceEnd.getTime()) : '',
    plan: s.ratePlanId ?? '',
  });
  await publish(redis, { tenantId: s.tenantId, action: ACTION[s.status] });
}

/**
 * Cold load of one tenant: state from `tenants`, bucket balances from the ledger accounts, and the ids of credit
 * transfers already in the ledger (so a late applyCredit of one of them is a no-op). Balances are only written when
 * Redis has never held this tenant (see load.lua); state is always refreshed. Throws if the tenant does not exist.
 */
export async function loadTenant(pool: Pool, redis: ChargingRedis, tenantId: string): Promise<void> {
  checkId('tenantId', tenantId);
  // one snapshot for the tenant, its balances and the credits those balances include
  const { tenant: t, buckets, credits } = await chargingSnapshot(pool, tenantId);
  if (!t) throw new RangeError(`tenant ${tenantId} does not exist`);
  const argv: (string | number)[] = [
    t.status,
    t.serviceStart ? String(t.serviceStart.getTime()) : '',
    t.serviceEnd ? String(t.serviceEnd.getTime()) : '',
    t.ratePlanId === null ? '' : t.ratePlanId.toString(),
    buckets.length,
  ];
  for (const r of buckets) argv.push(r.bucketId.toString(), r.balanceFen.toString(), bucketMeta(r.kind, r.validFrom, r.expiresAt));
  argv.push(credits.length);
  for (const r of credits) argv.push(r.transferId.toString(), r.bucketId.toString(), r.amountFen.toString());
  argv.push(tenantId);
  const k = redis.layout;
  await timed('redis', 'charging_load', () => redis.chargeLoad(k.tenant(tenantId), k.buckets(tenantId), k.bucketMeta(tenantId), k.credits(tenantId), k.creditAmounts(tenantId), k.expiries(k.shardOfTenant(tenantId)), ...argv));
}

/** Clear the tenant's buckets expired at `now` into the outbox (bucket.expired) and schedule its next expiry. */
export async function expireBuckets(redis: ChargingRedis, tenantId: string, now: number): Promise<void> {
  checkId('tenantId', tenantId);
  const k = redis.layout;
  const shard = k.shardOfTenant(tenantId);
  await timed('redis', 'charging_expire', () => redis.chargeExpire(k.buckets(tenantId), k.bucketMeta(tenantId), k.expirySeq(tenantId), k.outbox(shard), k.expiries(shard), tenantId, now));
}

export interface PaidRefund {
  /** live calls of the tenant at the instant of the refund: what they hold is not refunded by this run */
  liveCalls: number;
  /** one per paid bucket refunded now, with the outbox entry that carries it to the ledger */
  buckets: { bucketId: string; amountFen: bigint; streamId: string; eventId: string }[];
}

/**
 * Refund the tenant's paid balance in Redis (refund.lua): paid buckets to zero, one bucket.refunded outbox event per
 * bucket, atomically; gift buckets untouched. A tenant Redis never held is loaded from PostgreSQL first.
 */
export async function refundPaid(pool: Pool, redis: ChargingRedis, tenantId: string, refundId: string, now: number): Promise<PaidRefund> {
  checkId('tenantId', tenantId);
  checkId('refundId', refundId);
  const k = redis.layout;
  // money moves: replicated like a settlement before the caller acts on it (durably: WAIT when replicas are set)
  const run = () => timed('redis', 'charging_refund', () => durably(redis, 'refund', 'chargeRefund', k.tenant(tenantId), k.buckets(tenantId), k.bucketMeta(tenantId),
    k.expirySeq(tenantId), k.outbox(k.shardOfTenant(tenantId)), k.calls(tenantId), tenantId, now, refundId));
  let r = await run();
  if (r[0] === 'unloaded') {
    await loadTenant(pool, redis, tenantId);
    r = await run();
  }
  if (r[0] !== 'ok') throw new Error(`refund.lua answered ${JSON.stringify(r)}`);
  const buckets: PaidRefund['buckets'] = [];
  for (let i = 2; i < r.length; i += 3) {
    const bucketId = String(r[i]);
    buckets.push({ bucketId, amountFen: BigInt(String(r[i + 1])), streamId: String(r[i + 2]), eventId: refundKey(refundId, bucketId) });
  }
  return { liveCalls: Number(r[1]), buckets };
}

/** Subscribe to tenant control messages; returns an unsubscribe function (closes the subscriber connection). */
export async function subscribeTenantControl(
  redis: ChargingRedis,
  handler: (msg: ControlMessage) => void,
): Promise<() => Promise<void>> {
  const sub = duplicateConnection(redis, { enableOfflineQueue: true });
  const channel = controlChannel(redis.keyPrefix);
  sub.on('message', (ch: string, text: string) => {
    if (ch !== channel) return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not ours: ignore garbage on the channel
    }
    const m = msg as Partial<ControlMessage>;
    if (typeof m.tenantId === 'string' && (m.action === 'suspend' || m.action === 'resume' || m.action === 'terminate' || m.action === 'credit')) {
      handler({ tenantId: m.tenantId, action: m.action });
    }
  });
  await waitReady(sub).catch(() => undefined);
  await sub.subscribe(channel);
  return async () => {
    await sub.quit().catch(() => sub.disconnect());
  };
}
