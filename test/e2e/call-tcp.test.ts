/**
 * The whole product over TCP: the call center's sipp and the carrier's sipp speak SIP over TCP only (sipp -t t1),
 * the gateway row says transport tcp, and the SIP server listens on UDP and TCP. An answered call charged to the
 * second, a CANCEL before answer, and a cut-off at exhaustion with the BYE's Reason on both legs. (UDP is what every
 * other e2e file runs.)
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness({}, { transport: 'tcp' });

const CALLEE = '13800138000';

describe('calls over TCP on both legs', () => {
  it('answered call: charged to the second, CDR and ledger written', async () => {
    expect(h.transport).toBe('tcp');
    const tenantId = await h.tenant({ code: 'tcpcall', number: '+8657100000051', balanceFen: 1000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-tcp', port }]);
    const carrier = await h.carrier('call-uas-answer.xml', port);
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000051', callee: CALLEE, holdMs: 1500 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', sip_status: 200, gateway: 'gw-tcp', disconnect_side: 'caller' });
    expect(cdr!.billable_seconds).toBe(Math.ceil(Number(cdr!.duration_ms) / 1000));
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
  });

  it('CANCEL before answer: relayed to the carrier, CDR canceled 487, nothing charged', async () => {
    const tenantId = await h.tenant({ code: 'tcpcancel', number: '+8657100000052', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-tcp', port }]);
    const carrier = await h.carrier('call-uas-ring.xml', port);
    const caller = await h.call('call-uac-cancel.xml', { caller: '+8657100000052', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'canceled', sip_status: 487, charge_fen: 0n, disconnect_side: 'caller', gateway: 'gw-tcp' });
    expect(await h.ledgerBalance(tenantId)).toBe(1000n);
  });

  it('cut-off at exhaustion: BYE with Reason on both TCP legs, charge == balance', async () => {
    const tenantId = await h.tenant({ code: 'tcpcut', number: '+8657100000053', balanceFen: 30n, pricePerMinute: '6' }); // 3 s
    const port = await freePort();
    await h.gateways([{ name: 'gw-tcp', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'balance exhausted' }), port);
    const caller = await h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'balance exhausted' }), { caller: '+8657100000053', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: 'balance exhausted', billable_seconds: 3, charge_fen: 30n });
    expect(await h.ledgerBalance(tenantId)).toBe(0n);
    expect(h.app.activeCalls()).toBe(0);
  });
});
