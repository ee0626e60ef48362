/**
 * The edge's door as pure pieces: the source allow-list (hosts, CIDR, groups), per-source token buckets and the
 * Record-Routed dialog table, each bounded however many distinct remote keys arrive.
 */
import { describe, expect, it } from 'vitest';
import { SourceAllowList, parseSourceEntry } from '../../src/edge/sources.js';
import { RateLimiter } from '../../src/util/ratelimit.js';
import { RoutedDialogs } from '../../src/edge/routed.js';
import { DialogStore, type Dialog } from '../../src/edge/dialogs.js';

describe('SourceAllowList', () => {
  it('allows hosts and networks of every group, nothing else; a group is replaced as a whole', () => {
    const l = new SourceAllowList();
    expect(l.set('trunks', ['10.0.0.5/32', '192.168.8.0/22', '172.16.1.9'])).toEqual([]);
    expect(l.set('gateways', ['203.0.113.7', 'carrier.example', '2001:db8::1', '10.0.0.0/33'])).toEqual(['carrier.example', '2001:db8::1', '10.0.0.0/33']);
    for (const a of ['10.0.0.5', '192.168.8.0', '192.168.11.255', '172.16.1.9', '203.0.113.7']) expect(l.allows(a), a).toBe(true);
    for (const a of ['10.0.0.6', '192.168.12.0', '192.168.7.255', '203.0.113.8', '', 'not-an-ip', '::1']) expect(l.allows(a), a).toBe(false);
    l.set('gateways', []);
    expect(l.allows('203.0.113.7')).toBe(false);
    expect(l.allows('10.0.0.5')).toBe(true);
    expect(l.snapshot()).toEqual({ trunks: ['10.0.0.5/32', '192.168.8.0/22', '172.16.1.9'], gateways: [] });
  });

  it('a network entry ignores host bits (as PostgreSQL network() does); /0 allows every IPv4 source', () => {
    expect(parseSourceEntry('10.1.2.3/8')).toEqual({ base: 0x0a000000, mask: 0xff000000 });
    const l = new SourceAllowList();
    l.set('all', ['0.0.0.0/0']);
    expect(l.allows('198.51.100.1')).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('gives each key `burst` at once, then `rate` per second', () => {
    let t = 0;
    const r = new RateLimiter(10, 20, 100, () => t);
    let ok = 0;
    for (let i = 0; i < 50; i++) if (r.take('a')) ok++;
    expect(ok).toBe(20);
    expect(r.take('b')).toBe(true); // another key has its own bucket
    t += 500;
    ok = 0;
    for (let i = 0; i < 50; i++) if (r.take('a')) ok++;
    expect(ok).toBe(5);
  });

  it('keeps at most maxKeys buckets however many sources arrive; rate 0 = no limit', () => {
    const r = new RateLimiter(1, 1, 1000, () => 0);
    for (let i = 0; i < 100_000; i++) r.take(`10.${i >> 16 & 255}.${i >> 8 & 255}.${i & 255}`);
    expect(r.size).toBe(1000);
    const off = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(off.take('x')).toBe(true);
    expect(off.size).toBe(0);
  });
});

describe('RoutedDialogs', () => {
  it('finds a dialog from either direction, only with both tags; BYE removes it', () => {
    const r = new RoutedDialogs();
    r.add('c1', 'ft', 'tt', ['10.0.0.1', '10.0.0.2']);
    expect(r.find('c1', 'ft', 'tt')?.peers).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
    expect(r.find('c1', 'tt', 'ft')).toBeDefined();
    expect(r.find('c1', 'ft', undefined)).toBeUndefined();
    expect(r.find('c1', 'ft', 'other')).toBeUndefined();
    expect(r.find('c2', 'ft', 'tt')).toBeUndefined();
    r.remove(r.find('c1', 'ft', 'tt')!);
    expect(r.find('c1', 'ft', 'tt')).toBeUndefined();
  });

  it('is bounded (least recently used goes first) and forgets dialogs idle past idleMs', () => {
    let t = 0;
    const r = new RoutedDialogs(3, 1000, () => t);
    for (const c of ['a', 'b', 'c']) r.add(c, 'x', 'y', []);
    r.find('a', 'x', 'y'); // a is now the most recently used
    r.add('d', 'x', 'y', []);
    expect(r.size).toBe(3);
    expect(r.find('b', 'x', 'y')).toBeUndefined();
    expect(r.find('a', 'x', 'y')).toBeDefined();
    t += 1001;
    expect(r.find('a', 'x', 'y')).toBeUndefined();
  });
});

describe('DialogStore', () => {
  const dialog = (i: number): Dialog => ({
    id: `c${i};from-tag=f`, role: 'uac', state: 'early', callId: `c${i}`, localTag: 'f', localUri: '<sip:a@b>;tag=f', remoteUri: '<sip:c@d>',
    remoteTarget: 'sip:c@d', routeSet: [], localCseq: 1, inviteCseq: 1, inviteCseqRemote: 0, proto: 'udp',
    fallback: { proto: 'udp', address: `10.0.${i >> 8 & 255}.${i & 255}`, port: 5060 }, owner: null,
  });

  it('counts dialog peers (their addresses pass the source filter) and lets them go once', () => {
    const s = new DialogStore();
    const d = dialog(1);
    s.add(d);
    expect(s.hasPeer('10.0.0.1')).toBe(true);
    s.remove(d);
    s.remove(d);
    expect(s.hasPeer('10.0.0.1')).toBe(false);
  });

  it('remembers at most 10 000 failed dialogs however fast INVITEs fail', () => {
    const s = new DialogStore();
    for (let i = 0; i < 30_000; i++) {
      const d = dialog(i);
      s.add(d);
      s.remove(d, true);
    }
    expect(s.size).toBe(0);
    expect((s as unknown as { failed: Map<string, number> }).failed.size).toBeLessThanOrEqual(10_001);
    expect(s.recentlyFailed(dialog(29_999).id)).toBe(true);
  });
});
