/**
 * SIP app end to end: sipp (call center) → embedded edge → createSipApp → edge → sipp (carrier), with the real
 * charging engine, Redis, the outbox consumer and PostgreSQL. Each case asserts on SIP (sipp's verdict, including
 * its header checks) and on the CDR and ledger rows written through the outbox.
 */
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/observability/metrics.js';
import { freePort } from '../helpers/ports.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';
import { eventually } from '../helpers/poll.js';

const h = useHarness();

const CALLEE = '13800138000';

describe('SIP calls through the app (real sipp, edge, Redis, PostgreSQL)', () => {
  it('normal call: answered, caller hangs up, charge exact to the second, CDR + ledger written', async () => {
    const tenantId = await h.tenant({ code: 'normal', number: '+8657100000001', balanceFen: 1000n, pricePerMinute: '6' }); // 10 fen/s
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-answer.xml', port);
    const caller = await h.call('call-uac-answer.xml', { caller: '057100000001', callee: CALLEE, holdMs: 2000 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // incl. its header-policy checks

    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({
      result: 'answered', sip_status: 200, caller: '+8657100000001', callee: '+8613800138000', gateway: 'gw-a',
      ingress_trunk: 'ccc-test', disconnect_side: 'caller', disconnect_reason: 'caller BYE', price_per_minute: '6.000000',
    });
    expect(cdr!.b_call_id).toBeTruthy();
    expect(cdr!.b_call_id).not.toBe(cdr!.a_call_id);
    expect(cdr!.answer_at!.getTime()).toBeGreaterThanOrEqual(cdr!.ring_at!.getTime());
    expect(cdr!.ring_at!.getTime()).toBeGreaterThanOrEqual(cdr!.invite_at.getTime());
    // per-second increments: billable = whole seconds started; charge = seconds × 10 fen
    expect(cdr!.billable_seconds).toBe(Math.ceil(Number(cdr!.duration_ms) / 1000));
    expect(cdr!.billable_seconds).toBeGreaterThanOrEqual(2);
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
    expect(await h.ledgerBalance(tenantId)).toBe(1000n - cdr!.charge_fen);
    expect(h.app.activeCalls()).toBe(0);
  });

  it('402 when the tenant has no balance; rejected CDR, no charge', async () => {
    const tenantId = await h.tenant({ code: 'broke', number: '+8657100000002', balanceFen: 0n });
    const caller = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 402, CHECK_REASON: 'true' }), { caller: '+8657100000002', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', sip_status: 402, reject_reason: 'no_balance', charge_fen: 0n, gateway: null });
    expect(await h.callCharges(tenantId)).toBe(0n);
  });

  it('403 for a caller ID no tenant holds; CDR without tenant, nothing charged', async () => {
    const caller = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 403, CHECK_REASON: 'true' }), { caller: '+8657199999999', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId: null, caller: '+8657199999999' }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', sip_status: 403, reject_reason: 'caller_id', disconnect_reason: 'caller ID not held by any tenant', charge_fen: 0n });
  });

  it('CANCEL before answer: the carrier gets the CANCEL, CDR canceled with 487, no charge', async () => {
    const tenantId = await h.tenant({ code: 'cancel', number: '+8657100000003', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-ring', port }]);
    const carrier = await h.carrier('call-uas-ring.xml', port);
    const caller = await h.call('call-uac-cancel.xml', { caller: '+8657100000003', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'canceled', sip_status: 487, charge_fen: 0n, billable_seconds: 0, disconnect_side: 'caller', gateway: 'gw-ring' });
    expect(cdr!.ring_at).not.toBeNull();
    expect(cdr!.answer_at).toBeNull();
    expect(await h.callCharges(tenantId)).toBe(0n);
    expect(await h.ledgerBalance(tenantId)).toBe(1000n);
  });

  it('busy 486 from the carrier is passed to the caller and NOT retried on the next gateway', async () => {
    const tenantId = await h.tenant({ code: 'busy', number: '+8657100000004', balanceFen: 1000n });
    const busyPort = await freePort();
    const otherPort = await freePort();
    await h.gateways([{ name: 'gw-busy', port: busyPort, priority: 10 }, { name: 'gw-other', port: otherPort, priority: 20 }]);
    const carrier = await h.carrier(scenarioFor('call-uas-reject.xml', { STATUS: 486 }), busyPort);
    const caller = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 486, CHECK_REASON: 'false' }), { caller: '+8657100000004', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'failed', sip_status: 486, gateway: 'gw-busy', charge_fen: 0n });
    expect(await h.callCharges(tenantId)).toBe(0n);
  });

  it('gateway failover: 503 from the first gateway, the second answers; charged once', async () => {
    const tenantId = await h.tenant({ code: 'failover', number: '+8657100000005', balanceFen: 1000n });
    const badPort = await freePort();
    const goodPort = await freePort();
    await h.gateways([{ name: 'gw-503', port: badPort, priority: 10 }, { name: 'gw-ok', port: goodPort, priority: 20 }]);
    const bad = await h.carrier(scenarioFor('call-uas-reject.xml', { STATUS: 503 }), badPort);
    const good = await h.carrier('call-uas-answer.xml', goodPort);
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000005', callee: CALLEE, holdMs: 1000 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await bad.done).toMatchObject({ successful: 1, failed: 0 });
    expect(await good.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', gateway: 'gw-ok', sip_status: 200 });
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
  });

  it('403 for an INVITE from an address that is not a call-center trunk, counted in softswitch_calls_total (the app\'s own check, behind the edge\'s)', async () => {
    const ingressRejections = async () =>
      (await registry.getSingleMetric('softswitch_calls_total')!.get()).values
        .filter((v) => v.labels['result'] === 'rejected' && v.labels['reason'] === 'ingress').reduce((s, v) => s + v.value, 0);
    const before = await ingressRejections();
    await h.tenant({ code: 'spoofed', number: '+8657100000006', balanceFen: 1000n });
    // the edge drops non-trunk sources before the app sees them (test/security); let this one through to test the app
    h.sources.set('test-not-a-trunk', ['127.0.0.2']);
    const r = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 403, CHECK_REASON: 'true' }), { caller: '+8657100000006', callee: CALLEE, from: '127.0.0.2' });
    expect(r).toMatchObject({ successful: 1, failed: 0 });
    expect(await ingressRejections()).toBe(before + 1);
    // the second one from that address is only summarised in the log (LogSummary), but still answered and counted
    const again = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 403, CHECK_REASON: 'true' }), { caller: '+8657100000006', callee: CALLEE, from: '127.0.0.2' });
    expect(again).toMatchObject({ successful: 1, failed: 0 });
    expect(await ingressRejections()).toBe(before + 2);
  });

  it('concurrency limit: with max 1 live call, a second call of the tenant gets 503 while the first is up', async () => {
    const tenantId = await h.tenant({ code: 'limited', number: '+8657100000007', balanceFen: 100_000n, maxConcurrent: 1 });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-answer.xml', port);
    const first = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'operator cut' }), { caller: '+8657100000007', callee: CALLEE });
    await eventually('the first call answered', () => h.app.answeredCalls() >= 1);
    const second = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000007', callee: CALLEE });
    expect(second).toMatchObject({ successful: 1, failed: 0 });
    expect(await h.app.cutTenant(tenantId, 'operator cut')).toBe(1);
    expect(await first).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const cdrs = await h.cdrs({ tenantId }, 2);
    expect(cdrs.map((c) => [c.result, c.sip_status, c.reject_reason])).toEqual(
      expect.arrayContaining([['answered', 200, null], ['rejected', 503, 'limit']]),
    );
  });

  it('a re-INVITE from the caller mid-call is relayed to the carrier and answered end to end', async () => {
    const tenantId = await h.tenant({ code: 'reinvite', number: '+8657100000008', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-reinvite.xml', port);
    const caller = await h.call('call-uac-reinvite.xml', { caller: '+8657100000008', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'caller' });
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
  });

  it('the callee hangs up: BYE relayed to the caller with a Reason, CDR disconnect side callee', async () => {
    const tenantId = await h.tenant({ code: 'calleebye', number: '+8657100000009', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-hangup.xml', port);
    const caller = await h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'callee hung up' }), { caller: '+8657100000009', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'callee', disconnect_reason: 'callee BYE' });
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
  });
});
