/**
 * SIP app end to end: a carrier gateway that sends nothing at all (not even 100 Trying) is abandoned after
 * sip.gatewayTimeoutSeconds (3 s in the harness), the next gateway is tried and answers, and the silent one's late
 * 200 OK, seconds later, is ACKed and hung up at once (BYE) and never billed. Real sipp on all three sides.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness();

describe('silent carrier gateway', () => {
  it('abandoned after the gateway timeout, the next gateway answers; its late 200 is torn down (BYE) and never billed', async () => {
    expect(h.config.sip.gatewayTimeoutSeconds).toBe(3);
    const tenantId = await h.tenant({ code: 'silentgw', number: '+8657100000031', balanceFen: 10_000n, pricePerMinute: '6' });
    const silentPort = await freePort();
    const goodPort = await freePort();
    await h.gateways([{ name: 'gw-silent', port: silentPort, priority: 10 }, { name: 'gw-good', port: goodPort, priority: 20 }]);
    // its 200 comes 6 s after the INVITE, long after the app gave up on it at +3 s, while the call through gw-good is up
    const silent = await h.carrier(scenarioFor('call-uas-silent-late.xml', { LATE_MS: 6000 }), silentPort);
    const good = await h.carrier('call-uas-answer.xml', goodPort);
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000031', callee: '13800138000', holdMs: 5000 });

    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await good.done).toMatchObject({ successful: 1, failed: 0 });
    // the silent gateway's late 200 was ACKed and then hung up with a BYE: its scenario only succeeds that way
    expect(await silent.done).toMatchObject({ successful: 1, failed: 0 });

    const [cdr, ...more] = await h.cdrs({ tenantId }, 1);
    expect(more).toEqual([]);
    expect(cdr).toMatchObject({ result: 'answered', gateway: 'gw-good', sip_status: 200, disconnect_side: 'caller' });
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
    // one call, one charge: the abandoned leg added nothing
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
    expect(await h.ledgerBalance(tenantId)).toBe(10_000n - cdr!.charge_fen);
    expect(h.app.activeCalls()).toBe(0);
    if (h.target.edge) expect(h.target.edge.stats().dialogs).toBe(0);
  }, 60_000);
});
