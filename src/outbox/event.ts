/**
 * Outbox events (docs/outbox.md): the JSON in field `event` of each entry of the Redis stream `outbox`.
 * parseOutboxEvent is pure: it turns raw text into a typed event or a reason why it is poison. Everything the
 * writer relies on is checked here (ids are decimal, money is integer fen, debits add up to the charge), so a bad
 * event is dead-lettered with a clear reason instead of failing half-way through a PostgreSQL transaction.
 */
import { CDR_TEXT_MAX, type AppliedRate, type CallResult, type CdrRecord, type DisconnectSide } from '../cdr/types.js';

interface Debit {
  bucketId: string;
  amountFen: bigint;
}

export interface CallEvent {
  eventId: string; // call:<callId>
  type: 'call.settled' | 'call.rejected';
  at: number;
  cdr: CdrRecord;
  chargeFen: bigint; // cdr.chargeFen parsed
  debits: Debit[];
}

interface BucketExpiredEvent {
  eventId: string; // expire:<bucketId>:<seq>
  type: 'bucket.expired';
  at: number;
  tenantId: string;
  bucketId: string;
  amountFen: bigint;
}

/** Paid balance refunded (contract art. 5.3; src/charging/lua/refund.lua): bucket → cash, kind 'refund'. */
interface BucketRefundedEvent {
  eventId: string; // refund:<refundId>:<bucketId>
  type: 'bucket.refunded';
  at: number;
  tenantId: string;
  bucketId: string;
  amountFen: bigint;
}

/** Events that move one bucket's money out without a call. */
export type BucketEvent = BucketExpiredEvent | BucketRefundedEvent;
export type OutboxEvent = CallEvent | BucketEvent;

export function isBucketEvent(ev: OutboxEvent): ev is BucketEvent {
  return ev.type === 'bucket.expired' || ev.type === 'bucket.refunded';
}

type ParseResult = { ok: true; event: OutboxEvent } | { ok: false; reason: string };

const ID = /^[1-9][0-9]{0,18}$/;
const FEN = /^(0|[1-9][0-9]{0,17})$/; // < 10^18 fen: fits int8 with room for sums
const DECIMAL = /^[0-9]{1,8}(\.[0-9]{1,6})?$/; // numeric(14,6)
const RESULTS: readonly CallResult[] = ['answered', 'failed', 'canceled', 'rejected'];
const SIDES: readonly DisconnectSide[] = ['caller', 'callee', 'system'];
const ROUNDINGS: readonly AppliedRate['rounding'][] = ['up', 'down', 'half-up'];
const MAX_TEXT = CDR_TEXT_MAX;

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${what} must be an object`);
  return v as Obj;
}
function text(o: Obj, k: string, what: string, min = 1): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length < min || v.length > MAX_TEXT) throw new Invalid(`${what}.${k} must be a string of ${min}-${MAX_TEXT} characters`);
  return v;
}
function textOrNull(o: Obj, k: string, what: string): string | null {
  return o[k] === null ? null : text(o, k, what);
}
function int(o: Obj, k: string, what: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new Invalid(`${what}.${k} must be an integer from ${min} to ${max}`);
  return v;
}
function epochMs(o: Obj, k: string, what: string): number {
  return int(o, k, what, 946_684_800_000, 32_503_680_000_000); // years 2000-3000
}
function epochMsOrNull(o: Obj, k: string, what: string): number | null {
  return o[k] === null ? null : epochMs(o, k, what);
}
function matching(o: Obj, k: string, what: string, re: RegExp, allowed: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw new Invalid(`${what}.${k} must be ${allowed}, got ${JSON.stringify(v)}`);
  return v;
}
function oneOf<T extends string>(o: Obj, k: string, what: string, values: readonly T[]): T {
  const v = o[k];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new Invalid(`${what}.${k} must be one of ${values.join(', ')}`);
  return v as T;
}

function parseRate(v: unknown): AppliedRate | null {
  if (v === null) return null;
  const o = obj(v, 'cdr.rate');
  const w = 'cdr.rate';
  return {
    ratePlanId: matching(o, 'ratePlanId', w, ID, 'a decimal id'),
    prefix: matching(o, 'prefix', w, /^[0-9]{1,20}$/, '1-20 digits'),
    pricePerMinute: matching(o, 'pricePerMinute', w, DECIMAL, 'a decimal CNY amount (6 places at most)'),
    initialIncrement: int(o, 'initialIncrement', w, 1, 3600),
    subsequentIncrement: int(o, 'subsequentIncrement', w, 1, 3600),
    connectFee: matching(o, 'connectFee', w, DECIMAL, 'a decimal CNY amount (6 places at most)'),
    minimumSeconds: int(o, 'minimumSeconds', w, 0, 3600),
    rounding: oneOf(o, 'rounding', w, ROUNDINGS),
  };
}

function parseCdr(v: unknown): CdrRecord {
  const o = obj(v, 'cdr');
  const w = 'cdr';
  const cdr: CdrRecord = {
    callId: text(o, 'callId', w),
    aCallId: text(o, 'aCallId', w),
    bCallId: textOrNull(o, 'bCallId', w),
    tenantId: o.tenantId === null ? null : matching(o, 'tenantId', w, ID, 'a decimal id or null'),
    // an anonymous caller may have an empty user part: still a CDR
    caller: text(o, 'caller', w, 0),
    callee: text(o, 'callee', w, 0),
    ingressTrunk: textOrNull(o, 'ingressTrunk', w),
    gateway: textOrNull(o, 'gateway', w),
    inviteAt: epochMs(o, 'inviteAt', w),
    ringAt: epochMsOrNull(o, 'ringAt', w),
    answerAt: epochMsOrNull(o, 'answerAt', w),
    endAt: epochMs(o, 'endAt', w),
    sipStatus: int(o, 'sipStatus', w, 100, 699),
    result: oneOf(o, 'result', w, RESULTS),
    rejectReason: textOrNull(o, 'rejectReason', w),
    disconnectSide: o.disconnectSide === null ? null : oneOf(o, 'disconnectSide', w, SIDES),
    disconnectReason: textOrNull(o, 'disconnectReason', w),
    billableSeconds: int(o, 'billableSeconds', w, 0, 2_000_000_000),
    durationMs: int(o, 'durationMs', w, 0, Number.MAX_SAFE_INTEGER),
    rate: parseRate(o.rate),
    chargeFen: matching(o, 'chargeFen', w, FEN, 'integer fen as a decimal string'),
    instanceId: text(o, 'instanceId', w),
  };
  if (cdr.endAt < cdr.inviteAt) throw new Invalid('cdr.endAt is before cdr.inviteAt');
  return cdr;
}

function parseDebits(v: unknown): Debit[] {
  if (!Array.isArray(v)) throw new Invalid('debits must be an array');
  const seen = new Set<string>();
  return v.map((d, i) => {
    const o = obj(d, `debits[${i}]`);
    const bucketId = matching(o, 'bucketId', `debits[${i}]`, ID, 'a decimal id');
    const amount = BigInt(matching(o, 'amountFen', `debits[${i}]`, FEN, 'integer fen as a decimal string'));
    if (amount <= 0n) throw new Invalid(`debits[${i}].amountFen must be > 0`);
    if (seen.has(bucketId)) throw new Invalid(`debits: bucket ${bucketId} appears twice`);
    seen.add(bucketId);
    return { bucketId, amountFen: amount };
  });
}

function parseObject(o: Obj): OutboxEvent {
  const eventId = text(o, 'eventId', 'event');
  const type = oneOf(o, 'type', 'event', ['call.settled', 'call.rejected', 'bucket.expired', 'bucket.refunded'] as const);
  const at = epochMs(o, 'at', 'event');
  if (type === 'bucket.expired' || type === 'bucket.refunded') {
    const tenantId = matching(o, 'tenantId', 'event', ID, 'a decimal id');
    const bucketId = matching(o, 'bucketId', 'event', ID, 'a decimal id');
    const amountFen = BigInt(matching(o, 'amountFen', 'event', FEN, 'integer fen as a decimal string'));
    if (amountFen <= 0n) throw new Invalid('event.amountFen must be > 0');
    const [shape, want] = type === 'bucket.expired'
      ? [new RegExp(`^expire:${bucketId}:[1-9][0-9]{0,18}$`), `expire:${bucketId}:<seq>`]
      : [new RegExp(`^refund:[1-9][0-9]{0,18}:${bucketId}$`), `refund:<refundId>:${bucketId}`];
    if (!shape.test(eventId)) throw new Invalid(`eventId must be ${want}`);
    return { eventId, type, at, tenantId, bucketId, amountFen };
  }
  const cdr = parseCdr(o.cdr);
  if (eventId !== `call:${cdr.callId}`) throw new Invalid(`eventId must be call:<cdr.callId>, got ${JSON.stringify(eventId)}`);
  const debits = parseDebits(o.debits);
  const chargeFen = BigInt(cdr.chargeFen);
  const sum = debits.reduce((a, d) => a + d.amountFen, 0n);
  if (sum !== chargeFen) throw new Invalid(`sum of debits ${sum} fen != cdr.chargeFen ${chargeFen} fen`);
  if (debits.length > 0 && cdr.tenantId === null) throw new Invalid('debits without cdr.tenantId');
  if (type === 'call.rejected' && chargeFen !== 0n) throw new Invalid('a call.rejected event must charge 0 fen');
  return { eventId, type, at, cdr, chargeFen, debits };
}

/** Parse the `event` field of an outbox entry. Never throws: bad input is a { ok: false, reason }. */
export function parseOutboxEvent(raw: string | undefined | null): ParseResult {
  if (raw === undefined || raw === null) return { ok: false, reason: 'entry has no "event" field' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${(e as Error).message}` };
  }
  try {
    return { ok: true, event: parseObject(obj(json, 'event')) };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, reason: e.message };
    throw e;
  }
}

/** Per-bucket fen an event takes from Redis balances that the ledger has not seen until the event is written. */
export function eventDebits(ev: OutboxEvent): { tenantId: string; bucketId: string; amountFen: bigint }[] {
  if (isBucketEvent(ev)) return [{ tenantId: ev.tenantId, bucketId: ev.bucketId, amountFen: ev.amountFen }];
  const t = ev.cdr.tenantId;
  return t === null ? [] : ev.debits.map((d) => ({ tenantId: t, bucketId: d.bucketId, amountFen: d.amountFen }));
}

/**
 * The tenants whose money a raw event (possibly poison) concerns: from its JSON when it parses, else every
 * `"tenantId":"<id>"` in the text. `unknown` when no tenant can be told: it could be anyone's money. A call event
 * of no tenant without debits (an unauthenticated attempt) concerns nobody.
 */
export function deadEventTenants(raw: string): { tenants: string[]; unknown: boolean } {
  try {
    const o = JSON.parse(raw) as { tenantId?: unknown; cdr?: { tenantId?: unknown }; debits?: unknown };
    const t = o?.tenantId ?? o?.cdr?.tenantId;
    if (typeof t === 'string' && ID.test(t)) return { tenants: [t], unknown: false };
    const noDebits = o?.debits === undefined || (Array.isArray(o.debits) && o.debits.length === 0);
    if (o?.cdr !== undefined && o.cdr?.tenantId === null && noDebits) return { tenants: [], unknown: false };
  } catch {
    // poison: fall back to the text
  }
  const tenants = [...new Set([...raw.matchAll(/"tenantId"\s*:\s*"([1-9][0-9]{0,18})"/g)].map((m) => m[1]!))];
  return { tenants, unknown: tenants.length === 0 };
}
