/**
 * Transaction state machines under vitest fake timers: exact RFC 3261 retransmission schedules (A, E, G) and
 * give-up points (B, F, H, I, J), with the default T1 = 500 ms, T2 = 4 s, T4 = 5 s. Deterministic: no real clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientTxn, ServerTxn } from '../../src/edge/transactions.js';
import { DEFAULT_TIMERS } from '../../src/edge/timers.js';
import type { SipRequest } from '../../src/edge/sip/message.js';
import type { Proto } from '../../src/edge/transport.js';

const request = (method: string): SipRequest => ({ kind: 'request', method, uri: 'sip:x@h', headers: [], body: '' });
const target = (proto: Proto) => ({ proto, address: '127.0.0.1', port: 5062 });

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

function client(method: string, proto: Proto) {
  const sentAt: number[] = [];
  const failures: number[] = [];
  let terminated = false;
  const tx = new ClientTxn('z9hG4bK1', request(method), 'text', target(proto), DEFAULT_TIMERS,
    () => sentAt.push(Date.now()), (_t, status) => failures.push(status), () => { terminated = true; });
  const t0 = Date.now();
  tx.start();
  return { tx, sent: () => sentAt.map((t) => t - t0), failures, terminated: () => terminated };
}

describe('INVITE client transaction (vitest fake timers)', () => {
  it('UDP: timer A doubles from T1 until timer B (64*T1) fails it with 408', () => {
    const c = client('INVITE', 'udp');
    vi.advanceTimersByTime(32_000);
    expect(c.sent()).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(c.failures).toEqual([408]);
    expect(c.terminated()).toBe(true);
  });

  it('TCP: no retransmission, still timer B', () => {
    const c = client('INVITE', 'tcp');
    vi.advanceTimersByTime(32_000);
    expect(c.sent()).toEqual([0]);
    expect(c.failures).toEqual([408]);
  });

  it('a provisional stops timer A; a final ends timer B; duplicates of the final are not passed on', () => {
    const c = client('INVITE', 'udp');
    vi.advanceTimersByTime(600);
    expect(c.tx.onResponse(180)).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(c.sent()).toEqual([0, 500]);
    expect(c.tx.onResponse(486)).toBe(true);
    expect(c.tx.onResponse(486)).toBe(false); // retransmitted final: re-ACKed by the core, not shown to the app
    vi.advanceTimersByTime(40_000);
    expect(c.failures).toEqual([]);
    expect(c.terminated()).toBe(true); // timer D ran out
  });

  it('once ringing, timer B no longer applies: a long-ringing call is not timed out', () => {
    const c = client('INVITE', 'udp');
    vi.advanceTimersByTime(1_000);
    c.tx.onResponse(180);
    vi.advanceTimersByTime(120_000);
    expect([c.failures, c.terminated()]).toEqual([[], false]);
    expect(c.tx.onResponse(200)).toBe(true);
  });
});

describe('non-INVITE client transaction (vitest fake timers)', () => {
  it('UDP: timer E doubles but is capped at T2; timer F fails it with 408', () => {
    const c = client('OPTIONS', 'udp');
    vi.advanceTimersByTime(32_000);
    expect(c.sent()).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(c.failures).toEqual([408]);
  });

  it('after a provisional it keeps retransmitting every T2', () => {
    const c = client('BYE', 'udp');
    vi.advanceTimersByTime(600);
    c.tx.onResponse(100);
    vi.advanceTimersByTime(9_000);
    expect(c.sent()).toEqual([0, 500, 1500, 5500, 9500]);
  });

  it('fail(503) ends it at once (transport error)', () => {
    const c = client('OPTIONS', 'tcp');
    c.tx.fail(503);
    c.tx.fail(503);
    expect(c.failures).toEqual([503]);
    expect(c.terminated()).toBe(true);
  });
});

function server(method: string, proto: Proto) {
  const resent: number[] = [];
  let terminatedAt = -1;
  const t0 = Date.now();
  const tx = new ServerTxn('k', request(method), target(proto), DEFAULT_TIMERS, () => resent.push(Date.now() - t0), () => { terminatedAt = Date.now() - t0; });
  return { tx, resent, terminatedAt: () => terminatedAt };
}

describe('INVITE server transaction (vitest fake timers)', () => {
  it('UDP non-2xx: timer G retransmits (capped at T2) until timer H gives up', () => {
    const s = server('INVITE', 'udp');
    s.tx.responded(486, 'busy');
    vi.advanceTimersByTime(32_000);
    expect(s.resent).toEqual([500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(s.terminatedAt()).toBe(32_000);
  });

  it('the ACK stops timer G; timer I (T4) then ends the transaction', () => {
    const s = server('INVITE', 'udp');
    s.tx.responded(486, 'busy');
    vi.advanceTimersByTime(2_000);
    s.tx.onAck();
    vi.advanceTimersByTime(10_000);
    expect(s.resent).toEqual([500, 1500]);
    expect(s.terminatedAt()).toBe(7_000);
  });

  it('a retransmitted INVITE gets the last response again (provisional or final)', () => {
    const s = server('INVITE', 'tcp');
    s.tx.responded(100, 'trying');
    s.tx.onRetransmit();
    s.tx.responded(486, 'busy');
    s.tx.onRetransmit();
    expect(s.resent).toEqual([0, 0]);
    vi.advanceTimersByTime(40_000);
    expect(s.resent).toHaveLength(2); // TCP: no timer G
  });
});

describe('non-INVITE server transaction (vitest fake timers)', () => {
  it('never answered by the app: forgotten after 64*T1 (the client has given up by then)', () => {
    const s = server('OPTIONS', 'udp');
    vi.advanceTimersByTime(31_999);
    expect(s.terminatedAt()).toBe(-1);
    vi.advanceTimersByTime(1);
    expect(s.terminatedAt()).toBe(32_000);
    const inv = server('INVITE', 'udp');
    vi.advanceTimersByTime(120_000);
    expect(inv.terminatedAt()).toBe(-1); // an INVITE waits for its app
  });

  it('timer J keeps it 64*T1 on UDP (absorbing retransmissions), 0 on TCP', () => {
    const u = server('BYE', 'udp');
    u.tx.responded(200, 'ok');
    vi.advanceTimersByTime(31_999);
    u.tx.onRetransmit();
    expect(u.resent).toEqual([31_999]);
    vi.advanceTimersByTime(1);
    expect(u.terminatedAt()).toBe(32_000);
    const t = server('BYE', 'tcp');
    t.tx.responded(200, 'ok');
    vi.advanceTimersByTime(0);
    expect(t.terminatedAt()).toBe(0);
  });
});
