import { describe, expect, it } from 'vitest';
import { eventDebits, isBucketEvent, parseOutboxEvent } from '../../src/outbox/event.js';
import { cdr, expired, refunded, rejected, settled } from './fixtures/events.js';

function reason(raw: string | null): string {
  const r = parseOutboxEvent(raw);
  if (r.ok) throw new Error('expected a poison event');
  return r.reason;
}

function mutate(raw: string, f: (o: Record<string, any>) => void): string {
  const o = JSON.parse(raw) as Record<string, any>;
  f(o);
  return JSON.stringify(o);
}

describe('parseOutboxEvent (the outbox event schema)', () => {
  it('accepts a settled call and keeps money as bigint fen', () => {
    const r = parseOutboxEvent(settled('c1', '7', [['12', 100n], ['13', 30n]]));
    expect(r.ok).toBe(true);
    if (!r.ok || isBucketEvent(r.event)) throw new Error('unexpected');
    expect(r.event.chargeFen).toBe(130n);
    expect(r.event.debits).toEqual([{ bucketId: '12', amountFen: 100n }, { bucketId: '13', amountFen: 30n }]);
    expect(eventDebits(r.event)).toEqual([{ tenantId: '7', bucketId: '12', amountFen: 100n }, { tenantId: '7', bucketId: '13', amountFen: 30n }]);
  });

  it('accepts a rejected call with no tenant and a bucket expiry', () => {
    const r = parseOutboxEvent(rejected('c2', null));
    expect(r.ok && r.event.type).toBe('call.rejected');
    const e = parseOutboxEvent(expired('7', '12', 500n, 3));
    expect(e.ok && e.event.type === 'bucket.expired' && e.event.amountFen).toBe(500n);
    if (e.ok) expect(eventDebits(e.event)).toEqual([{ tenantId: '7', bucketId: '12', amountFen: 500n }]);
  });

  it('accepts a paid-balance refund (art. 5.3) and counts it as a debit of its bucket', () => {
    const r = parseOutboxEvent(refunded('7', '12', 800n, 4));
    expect(r).toEqual({ ok: true, event: { eventId: 'refund:4:12', type: 'bucket.refunded', at: expect.any(Number), tenantId: '7', bucketId: '12', amountFen: 800n } });
    if (r.ok) expect(eventDebits(r.event)).toEqual([{ tenantId: '7', bucketId: '12', amountFen: 800n }]);
  });

  it('accepts an anonymous caller (empty user part)', () => {
    expect(parseOutboxEvent(settled('c3', '7', [], { caller: '' })).ok).toBe(true);
  });

  it.each([
    ['missing field', null, 'no "event" field'],
    ['invalid JSON', '{"eventId":', 'invalid JSON'],
    ['not an object', '[1,2]', 'event must be an object'],
    ['unknown type', mutate(settled('c', '7', []), (o) => (o.type = 'call.exploded')), 'event.type must be one of'],
    ['debits do not add up', mutate(settled('c', '7', [['12', 100n]]), (o) => (o.cdr.chargeFen = '101')), 'sum of debits 100 fen != cdr.chargeFen 101 fen'],
    ['float money', mutate(settled('c', '7', [['12', 100n]]), (o) => (o.debits[0].amountFen = 1.5)), 'debits[0].amountFen must be integer fen'],
    ['negative money', mutate(settled('c', '7', [['12', 100n]]), (o) => { o.debits[0].amountFen = '-100'; o.cdr.chargeFen = '-100'; }), 'must be integer fen'],
    ['zero debit', mutate(settled('c', '7', [['12', 100n]]), (o) => { o.debits[0].amountFen = '0'; o.cdr.chargeFen = '0'; }), 'debits[0].amountFen must be > 0'],
    ['same bucket twice', settled('c', '7', [['12', 1n], ['12', 2n]]), 'bucket 12 appears twice'],
    ['event id of another call', mutate(settled('c', '7', []), (o) => (o.eventId = 'call:other')), 'eventId must be call:<cdr.callId>'],
    ['debits without tenant', settled('c', null as unknown as string, [['12', 5n]]), 'debits without cdr.tenantId'],
    ['rejected with a charge', mutate(rejected('c', '7'), (o) => (o.cdr.chargeFen = '5')), 'sum of debits 0 fen != cdr.chargeFen 5 fen'],
    ['bad tenant id', mutate(settled('c', '7', []), (o) => (o.cdr.tenantId = '7; drop table cdrs')), 'cdr.tenantId must be a decimal id'],
    ['bad rate price', mutate(settled('c', '7', []), (o) => (o.cdr.rate.pricePerMinute = '1e3')), 'cdr.rate.pricePerMinute'],
    ['bad result', mutate(settled('c', '7', []), (o) => (o.cdr.result = 'won')), 'cdr.result must be one of'],
    ['end before invite', mutate(settled('c', '7', []), (o) => (o.cdr.endAt = o.cdr.inviteAt - 1)), 'cdr.endAt is before cdr.inviteAt'],
    ['ms as string', mutate(settled('c', '7', []), (o) => (o.cdr.inviteAt = String(o.cdr.inviteAt))), 'cdr.inviteAt must be an integer'],
    ['expiry id of another bucket', mutate(expired('7', '12', 5n, 1), (o) => (o.eventId = 'expire:13:1')), 'eventId must be expire:12:<seq>'],
    ['expiry of nothing', expired('7', '12', 0n, 1), 'event.amountFen must be > 0'],
    ['refund id of another bucket', mutate(refunded('7', '12', 5n, 1), (o) => (o.eventId = 'refund:1:13')), 'eventId must be refund:<refundId>:12'],
    ['refund with an expiry id', mutate(refunded('7', '12', 5n, 1), (o) => (o.eventId = 'expire:12:1')), 'eventId must be refund:<refundId>:12'],
  ])('refuses %s', (_name, raw, why) => {
    expect(reason(raw)).toContain(why);
  });

  it('the fixture CDR matches CdrRecord exactly (no extra or missing fields)', () => {
    const r = parseOutboxEvent(settled('c9', '7', []));
    if (!r.ok || isBucketEvent(r.event)) throw new Error('unexpected');
    expect(r.event.cdr).toEqual(cdr({ callId: 'c9', tenantId: '7', chargeFen: '0' }));
  });
});
