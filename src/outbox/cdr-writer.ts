/**
 * Writes a batch of outbox events to PostgreSQL in ONE transaction: each event's processed_events guard row, the
 * CDRs (one multi-row insert) and the ledger transfers (one multi-row insert; each account row, the hot
 * `revenue:calls` included, updated once per batch). An event whose guard row is already there was written before
 * and changes nothing, which is what makes the consumer exactly-once whatever crashes between commit and XACK.
 * The batch is all or nothing: when PostgreSQL refuses one event, the consumer writes them one by one to find it.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/pool.js';
import { bucketAccount, postTransfers, systemAccount, type SystemAccountCode, type TransferInput } from '../ledger/ledger.js';
import type { CdrRecord } from '../cdr/types.js';
import type { Logger } from '../util/logger.js';
import { metrics, timed } from '../observability/metrics.js';
import { isBucketEvent, type BucketEvent, type CallEvent, type OutboxEvent } from './event.js';

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
async function ensureCdrPartition(pool: Pool, inviteAt: number): Promise<void> {
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
// one multi-row insert per batch: each column is an array, element types as in cdrs
const CDR_TYPES = [
  'text', 'timestamptz', 'int8', 'text', 'text', 'text', 'text', 'text', 'text',
  'timestamptz', 'timestamptz', 'timestamptz', 'int4', 'int8', 'int8', 'text', 'numeric',
  'int4', 'int4', 'numeric', 'int4', 'text', 'int8', 'int4',
  'text', 'text', 'text', 'text', 'text',
] as const;
const CDR_INSERT = `insert into cdrs (${CDR_COLUMNS.join(', ')}) select * from unnest(${CDR_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;

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

  /** Look up the owners of buckets not known yet, in one query for a whole batch. */
  async owners(bucketIds: string[]): Promise<void> {
    const unknown = [...new Set(bucketIds.filter((b) => !this.cache.owners.has(b) && !this.found.owners.has(b)))];
    if (unknown.length === 0) return;
    const { rows } = await this.c.query<{ id: bigint; tenant_id: bigint }>('select id, tenant_id from balance_buckets where id = any($1::int8[])', [unknown]);
    for (const r of rows) this.found.owners.set(r.id.toString(), r.tenant_id.toString());
  }

  /** The buckets debited must belong to the event's tenant: a charge never moves between tenants. */
  async checkBuckets(tenantId: string, bucketIds: string[]): Promise<void> {
    await this.owners(bucketIds);
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

/** The transfers of a call charge: one per debited bucket, bucket → revenue:calls. */
async function callTransfers(look: Lookup, ev: CallEvent): Promise<TransferInput[]> {
  if (ev.debits.length === 0) return [];
  const tenantId = ev.cdr.tenantId!; // parseOutboxEvent refuses debits without a tenant
  await look.checkBuckets(tenantId, ev.debits.map((d) => d.bucketId));
  const revenue = await look.system('revenue:calls');
  const out: TransferInput[] = [];
  for (const d of ev.debits) {
    out.push({
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
  return out;
}

/**
 * The transfer of a bucket's money out without a call, keyed by the event id: an expiry (bucket → expired, kind
 * expiry_clear) or a paid-balance refund (bucket → cash, kind refund; src/charging/lua/refund.lua).
 */
async function bucketTransfers(look: Lookup, ev: BucketEvent): Promise<TransferInput[]> {
  await look.checkBuckets(ev.tenantId, [ev.bucketId]);
  const refund = ev.type === 'bucket.refunded';
  return [{
    idempotencyKey: ev.eventId,
    debitAccountId: await look.bucket(ev.bucketId),
    creditAccountId: await look.system(refund ? 'cash' : 'expired'),
    amountFen: ev.amountFen,
    kind: refund ? 'refund' : 'expiry_clear',
    tenantId: BigInt(ev.tenantId),
    memo: refund ? `paid balance refunded (refund ${ev.eventId.split(':')[1]}, art. 5.3)` : 'bucket expired',
    bookedAt: new Date(ev.at),
  }];
}

export interface BatchItem {
  event: OutboxEvent;
  streamId: string;
}

/**
 * Write events exactly once, all in one transaction. Returns one outcome per item, in order: 'duplicate' = its event
 * id was already processed (by an earlier batch, or earlier in this one), nothing written for it now.
 * Throws on failure with nothing written (the transaction rolls back); a LedgerError or EventRejected means the
 * content of some event contradicts the database.
 */
export async function writeEvents(pool: Pool, items: BatchItem[], log?: Logger): Promise<WriteOutcome[]> {
  if (items.length === 0) return [];
  for (const it of items) {
    if (isBucketEvent(it.event)) continue;
    await timed('postgres', 'outbox_cdr_partition', () => ensureCdrPartition(pool, (it.event as CallEvent).cdr.inviteAt)).catch((e: unknown) => {
      log?.warn({ err: e, eventId: it.event.eventId }, 'could not create the CDR month partition; the CDR goes to the default partition');
    });
  }
  let look: Lookup | undefined;
  const write = () => withTransaction(pool, async (c): Promise<WriteOutcome[]> => {
    look = new Lookup(c, resolvedOf(pool));
    // Guard rows in event-id order: concurrent writers of overlapping batches wait on each other's rows in the same
    // order (no deadlock), and a writer that waited sees the other's rows as duplicates once it commits.
    const sorted = [...items].sort((a, b) => (a.event.eventId < b.event.eventId ? -1 : a.event.eventId > b.event.eventId ? 1 : 0));
    const guard = await c.query<{ event_id: string }>(
      `insert into processed_events (event_id, stream_id)
       select e, s from unnest($1::text[], $2::text[]) with ordinality as u(e, s, n) order by n
       on conflict (event_id) do nothing returning event_id`,
      [sorted.map((i) => i.event.eventId), sorted.map((i) => i.streamId)],
    );
    const fresh = new Set(guard.rows.map((r) => r.event_id));
    // an id twice in this batch: the first item writes it, the second is a duplicate
    const outcomes = items.map((it): WriteOutcome => (fresh.delete(it.event.eventId) ? 'written' : 'duplicate'));
    const written = items.filter((_, i) => outcomes[i] === 'written').map((it) => it.event);
    const calls = written.filter((ev): ev is CallEvent => !isBucketEvent(ev));
    if (calls.length > 0) {
      const rows = calls.map((ev) => cdrValues(ev.cdr));
      await c.query(CDR_INSERT, CDR_COLUMNS.map((_, col) => rows.map((r) => r[col])));
    }
    await look.owners(written.flatMap((ev) => (isBucketEvent(ev) ? [ev.bucketId] : ev.debits.map((d) => d.bucketId))));
    const transfers: TransferInput[] = [];
    for (const ev of written) transfers.push(...(isBucketEvent(ev) ? await bucketTransfers(look, ev) : await callTransfers(look, ev)));
    await postTransfers(c, transfers);
    return outcomes;
  });
  // store metrics count PostgreSQL failures only: an event the ledger or the writer refuses (LedgerError,
  // EventRejected) is a bad event, dead-lettered and counted by the consumer, not a store error
  const result = await timed('postgres', 'outbox_write', async () => {
    try {
      return { outcomes: await write() };
    } catch (e) {
      const name = (e as Error | undefined)?.name;
      if (name === 'LedgerError' || name === 'EventRejected') return { refused: e };
      throw e;
    }
  });
  if ('refused' in result) throw result.refused;
  look?.commit();
  metrics.outboxBatches.inc();
  return result.outcomes;
}

/** Write one event exactly once (a batch of one). */
export async function writeEvent(pool: Pool, ev: OutboxEvent, streamId: string, log?: Logger): Promise<WriteOutcome> {
  return (await writeEvents(pool, [{ event: ev, streamId }], log))[0]!;
}
