/**
 * Mid-call re-INVITEs through the whole product (the caller's → carrier case is in call-basic): a re-INVITE the
 * carrier refuses (488) reaches the caller as 488 and the call goes on, billed as usual; a re-INVITE from the
 * carrier side is relayed to the caller, whose answer goes back to the carrier. Real sipp both sides.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { useHarness } from './use-harness.js';

const h = useHarness();

const CALLEE = '13800138000';

describe('mid-call re-INVITE', () => {
  it('refused by the carrier (488): the caller gets the 488, the call stays up and is billed once when the caller hangs up', async () => {
    const tenantId = await h.tenant({ code: 're488', number: '+8657100000061', balanceFen: 1000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-reinvite-refused.xml', port);
    const caller = await h.call('call-uac-reinvite-refused.xml', { caller: '+8657100000061', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // it got the 488, then its BYE was answered
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // it got the BYE after its 488
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', sip_status: 200, disconnect_side: 'caller', disconnect_reason: 'caller BYE' });
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
    expect(h.app.activeCalls()).toBe(0);
  });

  it('from the carrier side: relayed to the caller, the caller\'s answer goes back to the carrier; the call goes on', async () => {
    const tenantId = await h.tenant({ code: 'reout', number: '+8657100000062', balanceFen: 1000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier('call-uas-reinvite-out.xml', port);
    const caller = await h.call('call-uac-reinvite-in.xml', { caller: '+8657100000062', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // got the carrier's SDP in a re-INVITE, answered, hung up
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // got the caller's SDP in the 200, then the BYE
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', disconnect_side: 'caller' });
    expect(await h.callCharges(tenantId)).toBe(cdr!.charge_fen);
  });
});
