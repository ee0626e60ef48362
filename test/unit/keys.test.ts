/**
 * The Redis key layout (src/charging/keys.ts): the shard functions are stable and documented (tenant id mod shards,
 * FNV-1a of a call id), and every key one Lua step touches is in one Redis Cluster slot.
 */
import { describe, expect, it } from 'vitest';
import { fnv1a32, keyLayout, MAX_SHARDS, sipCallsScan } from '../../src/charging/keys.js';
import { clusterSlot } from '../../src/charging/redis.js';

describe('key layout', () => {
  const k = keyLayout(16);

  it('a tenant lives in shard tenantId mod shards, also past 2^53', () => {
    expect(k.shardOfTenant('1')).toBe(1);
    expect(k.shardOfTenant('16')).toBe(0);
    expect(k.shardOfTenant('35')).toBe(3);
    expect(k.shardOfTenant('9223372036854775807')).toBe(15); // 2^63-1 mod 16, exact in bigint
    expect(keyLayout(10).shardOfTenant('9007199254740993')).toBe(3); // 2^53+1: a float would say 2
    expect(() => k.shardOfTenant('t1')).toThrow(RangeError);
    expect(() => k.buckets('')).toThrow(RangeError);
  });

  it('a call without a tenant is placed by FNV-1a (32 bit) of its id', () => {
    // reference vectors of FNV-1a 32
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(k.shardOfCall('foobar')).toBe(0xbf9cf968 % 16);
    expect(k.shardOf(null, 'foobar')).toBe(k.shardOfCall('foobar'));
    expect(k.shardOf('', 'foobar')).toBe(k.shardOfCall('foobar'));
    expect(k.shardOf('35', 'foobar')).toBe(3);
  });

  it('every key of a tenant, its calls and its shard carries the shard tag: one cluster slot per step', () => {
    const t = '35';
    const s = k.shardOfTenant(t);
    const step = [
      k.tenant(t), k.buckets(t), k.bucketMeta(t), k.credits(t), k.creditAmounts(t), k.expirySeq(t), k.calls(t),
      k.call(s, 'abc@host'), k.done(s, 'abc@host'), k.leases(s), k.expiries(s), k.outbox(s), k.outboxDead(s), k.outboxAcked(s),
      k.sipCalls(t), k.sipCps(t, 1_700_000_000), k.sipSpend(t, '2026-11-24'),
    ];
    for (const key of step) expect(key.startsWith('{s3}:'), key).toBe(true);
    // with a key prefix in front (ioredis adds it), the slot is still the tag's
    expect(new Set(step.map((key) => clusterSlot(`ss:${key}`)))).toEqual(new Set([clusterSlot('{s3}')]));
    expect(k.tag(0)).toBe('{s0}');
    expect(() => k.tag(16)).toThrow(RangeError);
  });

  it('CRC16 slots match Redis Cluster (reference values of CLUSTER KEYSLOT)', () => {
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('123456789')).toBe(0x31c3 % 16384);
    expect(clusterSlot('{}foo')).not.toBe(clusterSlot('')); // an empty tag: the whole key is hashed
  });

  it('all() lists every shard; shard counts are bounded', () => {
    expect(keyLayout(4).all()).toEqual([0, 1, 2, 3]);
    expect(keyLayout(1).shardOfTenant('12345')).toBe(0);
    expect(() => keyLayout(0)).toThrow(RangeError);
    expect(() => keyLayout(MAX_SHARDS + 1)).toThrow(RangeError);
    expect(keyLayout(16)).toBe(k);
  });

  it('the SIP calls scan finds every tenant\'s calls key under the prefix, and only those', () => {
    const scan = sipCallsScan('ss.1:');
    expect(scan.match).toBe('ss.1:*:sip:calls:*');
    expect(scan.tenantOf(`ss.1:${k.sipCalls('35')}`)).toBe('35');
    expect(scan.tenantOf(`ss.1:${keyLayout(64).sipCalls('9007199254740993')}`)).toBe('9007199254740993');
    expect(scan.tenantOf(`ssx1:${k.sipCalls('35')}`)).toBeNull(); // the prefix's dot is a dot, not any character
    expect(scan.tenantOf(`ss.1:${k.sipCps('35', 1)}`)).toBeNull();
    expect(scan.tenantOf(`ss.1:${k.sipCalls('35')}:x`)).toBeNull();
  });
});
