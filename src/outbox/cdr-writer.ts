/**
 * Writes one outbox event to PostgreSQL in ONE transaction: the processed_events guard row, the CDR (for call
 * events) and the ledger transfers. A second write of the same event id finds the guard row and changes nothing,
 * which is what makes the consumer exactly-once whatever crashes between commit and XACK.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { bucketAccount, postTransfers, systemAccount, type SystemAccountCode, type TransferInput } from '../ledger/ledger.js';
import type { CdrRecord } from '../cdr/types.js';
import type { Logger } from '../util/logger.js';
import { timed } from '../observability/metrics.js';
import type { BucketExpiredEvent, CallEvent, OutboxEvent } from './event.js';

export type WriteOutcome = 'written' | 'duplicate';

/** Thrown for an event whose content contradicts the database (permanent: the consumer dead-letters it). */
export class EventRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventRejected';
  }
}

const knownMonths = new WeakMap<Pool, Set<string>>();

function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/**
 * Make sure the monthly partition of `inviteAt` exists, so a CDR does not land in cdrs_default (which would block
 * creating that month's partition later). Runs outside the event transaction: DDL takes strong locks on `cdrs`.
 * Throws when it cannot; the caller still writes the CDR (into the default partition if need be): a CDR is never
 * held back for want of a partition.
 */
export async function ensureCdrPartition(pool: Pool, inviteAt: number): Promise<void> {
  const month = monthOf(inviteAt);
  let known = knownMonths.get(pool);
  if (!known) knownMonths.set(pool, (known = new Set()));
  if (known.has(month)) return;
  const at = new Date(inviteAt).toISOString();
  try {
    await pool.query('select ensure_cdr_partitions($1::timestamptz, 1)', [at]);
  } catch {
    // two writers creating the same partition at once: the loser fails (42P07 or a pg_type 23505) and the
    // partition exists now, which a second call sees
    await pool.query('select ensure_cdr_partitions($1::timestamptz, 1)', [at]);
  }
  known.add(month);
}

const CDR_COLUMNS = [
  'call_id', 'invite_at', 'tenant_id', 'a_call_id', 'b_call_id', 'caller', 'callee', 'ingress_trunk', 'gateway',
  'ring_at', 'answer_at', 'end_at', 'billable_seconds', 'duration_ms', 'rate_plan_id', 'rate_prefix', 'price_per_minute',
  'initial_increment', 'subsequent_increment', 'connect_fee', 'minimum_seconds', 'rounding', 'charge_fen', 'sip_status',
  'result', 'reject_reason', 'disconnect_side', 'disconnect_reason', 'instance_id',
] as const;
const CDR_INSERT = `insert into cdrs (${CDR_COLUMNS.join(', ')}) values (${CDR_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

const ts = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function cdrValues(c: CdrRecord): unknown[] {
  const r = c.rate;
  return [
    c.callId, ts(c.inviteAt), c.tenantId, c.aCallId, c.bCallId, c.caller, c.callee, c.ingressTrunk, c.gateway,
    ts(c.ringAt), ts(c.answerAt), ts(c.endAt), c.billableSeconds, String(c.durationMs), r?.ratePlanId ?? null, r?.prefix ?? null,
    r?.pricePerMinute ?? null, r?.initialIncrement ?? null, r?.subsequentIncrement ?? null, r?.connectFee ?? null,
    r?.minimumSeconds ?? null, r?.rounding ?? null, c.chargeFen, c.sipStatus, c.result, c.rejectReason, c.disconnectSide,
    c.disconnectReason, c.instanceId,
  ];
}

/**
 * Ledger account ids and bucket owners never change once created, so they are cached per pool, but only after the
 * transaction that looked them up committed (an account created in a rolled-back transaction does not exist).
 */
interface Resolved { accounts: Map<string, bigint>; owners: Map<string, string> }
const resolvedByPool = new WeakMap<Pool, Resolved>();
function resolvedOf(pool: Pool): Resolved {
  let r = resolvedByPool.get(pool);
  if (!r) resolvedByPool.set(pool, (r = { accounts: new Map(), owners: new Map() }));
  return r;
}

class Lookup {
  readonly found: Resolved = { accounts: new Map(), owners: new Map() };
  constructor(private readonly c: PoolClient, private readonly cache: Resolved) {}

  /** The buckets debited must belong to the event's tenant: a charge never moves between tenants. */
  async checkBuckets(tenantId: string, bucketIds: string[]): Promise<void> {
    const unknown = bucketIds.filter((b) => !this.cache.owners.has(b));
    if (unknown.length > 0) {
      const { rows } = await this.c.query<{ id: bigint; tenant_id: bigint }>('select id, tenant_id from balance_buckets where id = any($1::int8[])', [unknown]);
      for (const r of rows) this.found.owners.set(r.id.toString(), r.tenant_id.toString());
    }
    for (const b of bucketIds) {
      const t = this.cache.owners.get(b) ?? this.found.owners.get(b);
      if (t === undefined) throw new EventRejected(`bucket ${b} does not exist`);
      if (t !== tenantId) throw new EventRejected(`bucket ${b} belongs to tenant ${t}, not to tenant ${tenantId}`);
    }
  }

  async account(key: string, create: () => Promise<bigint>): Promise<bigint> {
    const id = this.cache.accounts.get(key) ?? this.found.accounts.get(key) ?? (await create());
    this.found.accounts.set(key, id);
    return id;
  }
  bucket(bucketId: string): Promise<bigint> {
    return this.account(`bucket:${bucketId}`, () => bucketAccount(this.c, BigInt(bucketId)));
  }
  system(code: SystemAccountCode): Promise<bigint> {
    return this.account(`system:${code}`, () => systemAccount(this.c, code));
  }
  /** After COMMIT: what this transaction resolved is durable. */
  commit(): void {
    for (const [k, v] of this.found.accounts) this.cache.accounts.set(k, v);
    for (const [k, v] of this.found.owners) this.cache.owners.set(k, v);
  }
}

async function writeCall(c: PoolClient, look: Lookup, ev: CallEvent): Promise<void> {
  await c.query(CDR_INSERT, cdrValues(ev.cdr));
  if (ev.debits.length === 0) return;
  const tenantId = ev.cdr.tenantId!; // parseOutboxEvent refuses debits without a tenant
  await look.checkBuckets(tenantId, ev.debits.map((d) => d.bucketId));
  const revenue = await look.system('revenue:calls');
  const transfers: TransferInput[] = [];
  for (const d of ev.debits) {
    transfers.push({
      idempotencyKey: `call:${ev.cdr.callId}:${d.bucketId}`,
      debitAccountId: await look.bucket(d.bucketId),
      creditAccountId: revenue,
      amountFen: d.amountFen,
      kind: 'call_charge',
      tenantId: BigInt(tenantId),
      callId: ev.cdr.callId,
      bookedAt: new Date(ev.cdr.endAt), // statements date a call charge by the call's end
    });
  }
  await postTransfers(c, transfers);
}

async function writeExpiry(c: PoolClient, look: Lookup, ev: BucketExpiredEvent): Promise<void> {
  await look.checkBuckets(ev.tenantId, [ev.bucketId]);
  await postTransfers(c, [{
    idempotencyKey: ev.eventId,
    debitAccountId: await look.bucket(ev.bucketId),
    creditAccountId: await look.system('expired'),
    amountFen: ev.amountFen,
    kind: 'expiry_clear',
    tenantId: BigInt(ev.tenantId),
    memo: 'bucket expired',
    bookedAt: new Date(ev.at),
  }]);
}

/**
 * Write an event exactly once. 'duplicate' = its event id was already processed (nothing written now).
 * Throws on failure with nothing written (the transaction rolls back).
 */
export async function writeEvent(pool: Pool, ev: OutboxEvent, streamId: string, log?: Logger): Promise<WriteOutcome> {
  if (ev.type !== 'bucket.expired') {
    await timed('postgres', 'outbox_cdr_partition', () => ensureCdrPartition(pool, ev.cdr.inviteAt)).catch((e: unknown) => {
      log?.warn({ err: e, eventId: ev.eventId }, 'could not create the CDR month partition; the CDR goes to the default partition');
    });
  }
  let look: Lookup | undefined;
  const write = () => withTransaction(pool, async (c): Promise<WriteOutcome> => {
    look = new Lookup(c, resolvedOf(pool));
    // A concurrent writer of the same event id waits here on the primary key until the first one commits or
    // rolls back, then sees the row (duplicate) or inserts it itself.
    const guard = await c.query('insert into processed_events (event_id, stream_id) values ($1, $2) on conflict (event_id) do nothing', [ev.eventId, streamId]);
    if (guard.rowCount === 0) return 'duplicate';
    if (ev.type === 'bucket.expired') await writeExpiry(c, look, ev);
    else await writeCall(c, look, ev);
    return 'written';
  });
  // store metrics count PostgreSQL failures only: an event the ledger or the writer refuses (LedgerError,
  // EventRejected) is a bad event, dead-lettered and counted by the consumer, not a store error
  const result = await timed('postgres', 'outbox_write', async () => {
    try {
      return { outcome: await write() };
    } catch (e) {
      const name = (e as Error | undefined)?.name;
      if (name === 'LedgerError' || name === 'EventRejected') return { refused: e };
      throw e;
    }
  });
  if ('refused' in result) throw result.refused;
  look?.commit();
  return result.outcome;
}
