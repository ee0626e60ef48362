/**
 * Early media through the whole product, with real sipp on both sides. A carrier that sends 183 with SDP and answers
 * later than SIP_GATEWAY_TIMEOUT_SECONDS is not taken for a silent gateway. Reliable provisional responses (RFC 3262): a carrier that
 * sends its early media in a 183 with Require: 100rel is PRACKed (RAck naming its RSeq and the INVITE's CSeq); a
 * caller that supports 100rel gets that 183 reliably (Require: 100rel + RSeq) and its PRACK is answered; a caller
 * that does not gets it unreliably. Both calls connect and are charged. Embedded edge or drachtio-server.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness();

const CALLEE = '13800138000';

describe('early media', () => {
  it('183 with SDP, answer after the silent-gateway timeout: the gateway is not abandoned, the call connects', async () => {
    const tenantId = await h.tenant({ code: 'early', number: '+8657100000040', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-early', port }]);
    const lateMs = (h.config.sip.gatewayTimeoutSeconds + 1) * 1000;
    const carrier = await h.carrier(scenarioFor('call-uas-early-media.xml', { EARLY_MS: lateMs }), port);
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000040', callee: CALLEE, holdMs: 500 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', sip_status: 200, gateway: 'gw-early' });
    expect(cdr!.answer_at!.getTime() - cdr!.ring_at!.getTime()).toBeGreaterThanOrEqual(lateMs - 100); // rang at the 183
  });
});

describe('100rel / PRACK', () => {
  it('reliable 183 from the carrier, caller without 100rel: we PRACK the carrier, the caller gets early media, the call connects', async () => {
    const tenantId = await h.tenant({ code: 'rel1', number: '+8657100000041', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-rel', port }]);
    const carrier = await h.carrier('call-uas-100rel.xml', port);
    const caller = await h.call('call-uac-answer.xml', { caller: '+8657100000041', callee: CALLEE, holdMs: 500 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // PRACK with the right RAck came
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', sip_status: 200, gateway: 'gw-rel' });
    expect(cdr!.ring_at).not.toBeNull(); // the 183 counted as ringing
    expect(cdr!.charge_fen).toBe(BigInt(cdr!.billable_seconds) * 10n);
  });

  it('reliable 183 from the carrier, caller with 100rel: the caller gets it reliably and PRACKs it, the call connects', async () => {
    const tenantId = await h.tenant({ code: 'rel2', number: '+8657100000042', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-rel', port }]);
    const carrier = await h.carrier('call-uas-100rel.xml', port);
    const caller = await h.call('call-uac-100rel.xml', { caller: '+8657100000042', callee: CALLEE, holdMs: 500 });
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // Require: 100rel + RSeq on its 183, 200 to its PRACK
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'answered', sip_status: 200, disconnect_side: 'caller' });
  });
});
