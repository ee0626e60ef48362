/**
 * Input limits: whatever identity the door accepts (Call-ID, From, To, P-Asserted-Identity, request
 * URI, tags) makes a CDR the outbox accepts — shown for random input by property, and end to end for a call whose
 * Call-ID is exactly at the limit (charged, CDR written, no dead letter). One character more, or a CR/LF/NUL
 * smuggled into a header, is a 400 at the edge: no state, nothing to the carrier, no CDR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SIP_INPUT_LIMITS, sipInputProblem } from '../../src/cdr/input-limits.js';
import { billCall } from '../../src/charging/cdr.js';
import { parseOutboxEvent } from '../../src/outbox/event.js';
import { userPart } from '../../src/sip/normalize.js';
import { freePort } from '../helpers/ports.js';
import { killSipps, startHarness, type Harness } from '../e2e/harness.js';
import { rnd, sipRequest, sleep, statusOf, UdpPeer } from './support.js';

describe('what the door accepts, the outbox accepts (property)', () => {
  // mostly printable ASCII, sometimes the characters that break things (CR, LF, NUL, quotes, separators, non-BMP)
  const unit = fc.oneof({ weight: 1, arbitrary: fc.constantFrom('\r', '\n', '\0', '"', '\\', '\u2028', '\u0001', '中', '\u{1F600}', '%') },
    { weight: 30, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) });
  const text = (max: number) => fc.string({ unit, maxLength: max });
  it('for any Call-ID, From, To, PAI and request URI that pass sipInputProblem, the CDR event parses', () => {
    fc.assert(fc.property(
      text(SIP_INPUT_LIMITS.callId + 40), text(SIP_INPUT_LIMITS.nameAddr + 40), text(SIP_INPUT_LIMITS.nameAddr + 40),
      text(SIP_INPUT_LIMITS.requestUri + 40), fc.option(text(SIP_INPUT_LIMITS.nameAddr + 40), { nil: undefined }), fc.string({ maxLength: 300 }),
      (callId, from, to, requestUri, pai, carrierReason) => {
        fc.pre(sipInputProblem({ callId, from, to, requestUri, pai }) === undefined);
        const cdr = billCall({
          callId: 'c1', aCallId: callId, bCallId: null, tenantId: '7', caller: userPart(pai ?? from), callee: userPart(requestUri),
          ingressTrunk: 'ccc', gateway: 'gw', inviteAt: 1_780_000_000_000, ringAt: null, answerAt: null, endAt: 1_780_000_000_500,
          sipStatus: 486, result: 'failed', rejectReason: null, disconnectSide: null, disconnectReason: carrierReason,
        }, null, 0, 'i1');
        const p = parseOutboxEvent(JSON.stringify({ eventId: 'call:c1', type: 'call.settled', at: 1_780_000_000_500, cdr, debits: [] }));
        expect(p.ok ? 'ok' : p.reason).toBe('ok');
      },
    ), { numRuns: 200 });
  });

  it('refuses each field one character over its limit, and CR, LF or NUL anywhere', () => {
    expect(sipInputProblem({ callId: 'x'.repeat(SIP_INPUT_LIMITS.callId) })).toBeUndefined();
    expect(sipInputProblem({ callId: 'x'.repeat(SIP_INPUT_LIMITS.callId + 1) })).toBe('Call-ID longer than 256 characters');
    expect(sipInputProblem({ callId: '' })).toBe('Call-ID is empty');
    expect(sipInputProblem({ requestUri: `sip:${'1'.repeat(SIP_INPUT_LIMITS.requestUri)}` })).toMatch(/request URI longer/);
    expect(sipInputProblem({ from: 'x'.repeat(SIP_INPUT_LIMITS.nameAddr + 1) })).toMatch(/^From longer/);
    expect(sipInputProblem({ toTag: 't'.repeat(SIP_INPUT_LIMITS.tag + 1) })).toMatch(/^To tag longer/);
    for (const c of ['\r', '\n', '\0']) expect(sipInputProblem({ pai: `<sip:1${c}2@x>` })).toBe('P-Asserted-Identity contains CR, LF or NUL');
  });
});

describe('end to end through the edge and the app', () => {
  let h: Harness;
  let carrierPort: number;
  let trunk: UdpPeer;
  beforeAll(async () => {
    h = await startHarness();
    carrierPort = await freePort();
    await h.gateways([{ name: 'gw-limits', port: carrierPort }]);
    trunk = await UdpPeer.open('127.0.0.1');
  });
  afterAll(async () => {
    killSipps();
    await trunk?.close();
    await h?.close();
  });

  it('a call whose Call-ID is exactly at the limit is answered, charged and recorded (no dead letter)', async () => {
    const tenantId = await h.tenant({ code: 'longcid', number: '+8657100000031', balanceFen: 1000n, pricePerMinute: '6' });
    const carrier = await h.carrier('call-uas-answer.xml', carrierPort);
    // sipp makes the Call-ID from -cid_str: %u is the call number (1), the rest pads it to exactly 256 characters
    const cid = `${'a'.repeat(SIP_INPUT_LIMITS.callId - 1)}%u`;
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000031', callee: '13800138000', holdMs: 1000, sippArgs: ['-cid_str', cid] });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr!.a_call_id).toHaveLength(SIP_INPUT_LIMITS.callId);
    expect(cdr).toMatchObject({ result: 'answered' });
    expect(cdr!.charge_fen).toBeGreaterThan(0n);
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
    expect((await Promise.all(h.redis.layout.all().map((s) => h.redis.xlen(h.redis.layout.outboxDead(s))))).every((n) => n === 0)).toBe(true); // no dead letter in any shard
  });

  it('over the limit or with CR/LF/NUL in a header: 400 from the edge, nothing to the carrier, no CDR', async () => {
    const carrier = await UdpPeer.open('127.0.0.1');
    await h.gateways([{ name: 'gw-limits', port: carrier.port }]);
    const me = { address: trunk.address, port: trunk.port };
    const uri = `sip:13800138000@127.0.0.1:${h.edge.sipPort}`;
    const caller = '+8657100000031'; // a real tenant's number: only the input decides
    const cases: [string, string, number][] = [
      ['Call-ID one over the limit', sipRequest({ uri, from: me, caller, callId: `${'b'.repeat(SIP_INPUT_LIMITS.callId)}1` }), 400],
      ['From tag over the limit', sipRequest({ uri, from: me, caller, fromTag: 'f'.repeat(SIP_INPUT_LIMITS.tag + 1) }), 400],
      ['request URI over the limit', sipRequest({ uri: `sip:${'1'.repeat(SIP_INPUT_LIMITS.requestUri)}@127.0.0.1:${h.edge.sipPort}`, from: me, caller }), 400],
      ['NUL in P-Asserted-Identity', sipRequest({ uri, from: me, caller, extra: [`P-Asserted-Identity: <sip:${caller}\0@x>`] }), 400],
      ['bare LF in a header (injected header)', sipRequest({ uri, from: me, caller, extra: ['X-Note: a\nRoute: <sip:evil>'] }), 400],
      // CR/LF/NUL in a header a response would echo: dropped without an answer (no response splitting)
      ['NUL in the Call-ID', sipRequest({ uri, from: me, caller, callId: `${rnd()}\0x` }), 0],
      ['bare CR in From', sipRequest({ uri, from: me, caller: `${caller}\rX-Evil: 1` }), 0],
    ];
    const before = h.edge.stats(); // the call above may still have transactions winding down (timers J/K)
    try {
      for (const [what, text, want] of cases) {
        const tag = /Call-ID: ([^\r\n\0]{1,20})/.exec(text)![1]!;
        await trunk.send(text, h.edge.sipPort);
        const r = await trunk.next((t) => t.includes(tag) && statusOf(t) >= 200, want === 0 ? 800 : 3000);
        expect(r ? statusOf(r) : 0, what).toBe(want);
      }
      await sleep(300);
      expect(carrier.received).toEqual([]);
      const after = h.edge.stats();
      expect(after.dialogs).toBe(0);
      expect(after.serverTransactions).toBeLessThanOrEqual(before.serverTransactions);
      expect(after.clientTransactions).toBeLessThanOrEqual(before.clientTransactions);
      const { rows } = await h.db.pool.query(`select count(*)::int as n from cdrs where caller = '+8657100000031'`);
      expect(rows[0].n).toBe(1); // only the accepted call above
    } finally {
      await carrier.close();
    }
  });
});
