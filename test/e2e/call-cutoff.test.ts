/**
 * SIP app end to end, calls cut by the system: balance exhaustion (one call, and two concurrent calls sharing
 * one balance), operator suspension, `calls cut` and the outage refund (which terminates the tenant); both legs get a BYE with the Reason (each sipp checks it). Real sipp, embedded edge, charging engine, Redis, outbox, PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

// default slices (60 s): the engine shares a balance smaller than a slice fairly between concurrent calls
const h = useHarness();

const CALLEE = '13800138000';

describe('calls cut by the system', () => {
  it('cut-off at exhaustion: BYE on both legs with Reason, billed to the exact second; charge == balance', async () => {
    const tenantId = await h.tenant({ code: 'cutoff', number: '+8657100000011', balanceFen: 30n, pricePerMinute: '6' }); // 3 s
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'balance exhausted' }), port); // gets our BYE
    const caller = await h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'balance exhausted' }), { caller: '+8657100000011', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // BYE came, with Reason text="balance exhausted"
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // and the carrier's BYE had the same Reason

    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({
      result: 'answered', disconnect_side: 'system', disconnect_reason: 'balance exhausted', billable_seconds: 3, charge_fen: 30n,
    });
    // the system cut it once the 3 s were used (how late under load is softswitch_cutoff_lateness_seconds, not a test)
    const talkMs = cdr!.end_at.getTime() - cdr!.answer_at!.getTime();
    expect(talkMs).toBeGreaterThanOrEqual(3000 - 50); // answer time is stamped when B's 200 arrives, before the A ACK
    expect(await h.callCharges(tenantId)).toBe(30n);
    expect(await h.ledgerBalance(tenantId)).toBe(0n);
  });

  it('two concurrent calls of one tenant share the balance: both cut, total charge == balance, never more', async () => {
    const tenantId = await h.tenant({ code: 'shared', number: '+8657100000012', balanceFen: 60n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'balance exhausted' }), port, {}, 2);
    const caller = await h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'balance exhausted' }), { caller: '+8657100000012', callee: CALLEE, calls: 2 });
    expect(caller).toMatchObject({ successful: 2, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 2, failed: 0 });

    const cdrs = await h.cdrs({ tenantId }, 2);
    expect(cdrs.map((c) => c.disconnect_reason)).toEqual(['balance exhausted', 'balance exhausted']);
    for (const c of cdrs) expect(c.charge_fen).toBe(BigInt(c.billable_seconds) * 10n);
    expect(cdrs.reduce((s, c) => s + c.charge_fen, 0n)).toBe(60n);
    expect(await h.callCharges(tenantId)).toBe(60n);
    expect(await h.ledgerBalance(tenantId)).toBe(0n);
  });

  it('operator suspension cuts every live call of the tenant at once and refuses new ones', async () => {
    const tenantId = await h.tenant({ code: 'suspended', number: '+8657100000013', balanceFen: 100_000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'operator suspension' }), port, {}, 2);
    const caller = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'operator suspension' }), { caller: '+8657100000013', callee: CALLEE, calls: 2 });
    await eventually('two answered calls', () => h.app.answeredCalls() === 2);
    const suspended = await h.cli(['tenant', 'suspend', tenantId, '--reason', 'test', '--json']);
    expect(suspended.code, suspended.stderr).toBe(0);
    expect(await caller).toMatchObject({ successful: 2, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 2, failed: 0 });

    const cdrs = await h.cdrs({ tenantId }, 2);
    for (const c of cdrs) {
      expect(c).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: 'operator suspension' });
      expect(c.charge_fen).toBe(BigInt(c.billable_seconds) * 10n);
    }
    expect(await h.callCharges(tenantId)).toBe(cdrs.reduce((s, c) => s + c.charge_fen, 0n));

    const again = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 403, CHECK_REASON: 'true' }), { caller: '+8657100000013', callee: CALLEE });
    expect(again).toMatchObject({ successful: 1, failed: 0 });
    const all = await h.cdrs({ tenantId }, 3);
    expect(all[2]).toMatchObject({ result: 'rejected', sip_status: 403, reject_reason: 'tenant', disconnect_reason: 'tenant suspended' });
  });

  it('`softswitch calls cut --tenant` cuts the live calls on every instance; the tenant stays active', async () => {
    const tenantId = await h.tenant({ code: 'cutcli', number: '+8657100000014', balanceFen: 100_000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'fraud review' }), port);
    const caller = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'fraud review' }), { caller: '+8657100000014', callee: CALLEE });
    await eventually('an answered call', () => h.app.answeredCalls() === 1);
    const cli = h.cli;
    const active = await cli(['calls', 'active', '--tenant', 'cutcli', '--json']);
    expect(active.code).toBe(0);
    expect(JSON.parse(active.stdout)).toEqual([{ tenantId, calls: 1 }]);
    const cut = await cli(['calls', 'cut', '--tenant', 'cutcli', '--reason', 'fraud review', '--json']);
    expect(cut.code).toBe(0);
    expect(JSON.parse(cut.stdout)).toMatchObject({ tenantId, liveCallsBefore: 1, instancesReached: 1 });
    expect(await caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: 'fraud review' });
    expect((await cli(['calls', 'cut', '--json'])).code).toBe(2); // --tenant is required
  });

  it('`tenant refund --reason outage` cuts the live call, waits for it to settle, then refunds the rest of the paid balance', async () => {
    const tenantId = await h.tenant({ code: 'refunded', number: '+8657100000015', balanceFen: 100_000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'tenant terminated' }), port);
    const caller = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'tenant terminated' }), { caller: '+8657100000015', callee: CALLEE });
    await eventually('an answered call', () => h.app.answeredCalls() === 1);
    const { code, stdout, stderr } = await h.cli(['tenant', 'refund', 'refunded', '--reason', 'outage', '--override', 'carrier trunk down 2026-02-02..03-02 (ticket 7)', '--json']);
    expect(code, stderr).toBe(0);
    expect(await caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: 'tenant terminated' });
    const out = JSON.parse(stdout) as { liveCalls: number; refundedFen: string; terminated: boolean };
    // the call settled before the refund ran: one run refunds everything it did not use
    expect(out).toMatchObject({ liveCalls: 0, terminated: true });
    expect(BigInt(out.refundedFen) + cdr!.charge_fen).toBe(100_000n);
    await eventually('the call in the ledger', async () => (await h.ledgerBalance(tenantId)) === 0n);
  });
});
