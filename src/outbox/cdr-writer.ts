/**
 * Writes a batch of outbox events to PostgreSQL in ONE transaction: each event's processed_events guard row, the
 * CDRs (one multi-row insert) and the ledger transfers (one multi-row insert; each account row, the hot
 * `revenue:calls` included, updated once per batch). An event whose guard row is already there was written before
 * and changes nothing, which is what makes the consumer exactly-once whatever crashes between commit and XACK.
 * The batch is all or nothing: when PostgreSQL refuses one event, the consumer writes them one by one to find it.
 */
import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import { LedgerError } from '../ledger/errors.js';
import { callChargeKey, refundIdOf } from '../ledger/keys.js';
import { bucketAccount, postTransfers, systemAccount, type SystemAccountCode, type TransferInput } from '../ledger/ledger.js';
import { bucketOwners } from '../store/buckets.js';
import { ensureCdrPartition as createPartition, insertCdrs } from '../store/cdrs.js';
import { insertGuards } from '../store/outbox.js';
import { EventRejected } from './errors.js';
import type { Logger } from '../util/logger.js';
import { metrics, timed } from '../observability/metrics.js';
import { isBucketEvent, type BucketEvent, type CallEvent, type OutboxEvent } from './event.js';

export type WriteOutcome = 'written' | 'duplicate';

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
    await createPartition(pool, at);
  } catch {
    // two writers creating the same partition at once: the loser fails (42P07 or a pg_type 23505) and the
    // partition exists now, which a second call sees
    await createPartition(pool, at);
  }
  known.add(month);
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
    for (const r of await bucketOwners(this.c, unknown)) this.found.owners.set(r.bucketId, r.tenantId);
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
      idempotencyKey: callChargeKey(ev.cdr.callId, d.bucketId),
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
    memo: refund ? `paid balance refunded (refund ${refundIdOf(ev.eventId)}, art. 5.3)` : 'bucket expired',
    bookedAt: new Date(ev.at),
  }];
}

interface BatchItem {
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
    const fresh = await insertGuards(c, sorted.map((i) => ({ eventId: i.event.eventId, streamId: i.streamId })));
    // an id twice in this batch: the first item writes it, the second is a duplicate
    const outcomes = items.map((it): WriteOutcome => (fresh.delete(it.event.eventId) ? 'written' : 'duplicate'));
    const written = items.filter((_, i) => outcomes[i] === 'written').map((it) => it.event);
    const calls = written.filter((ev): ev is CallEvent => !isBucketEvent(ev));
    if (calls.length > 0) await insertCdrs(c, calls.map((ev) => ev.cdr));
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
      if (e instanceof LedgerError || e instanceof EventRejected) return { refused: e };
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
