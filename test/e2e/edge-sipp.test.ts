/**
 * End to end over real SIP: sipp (caller) → embedded edge → drachtio-srf bare B2BUA → edge → sipp (carrier).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import {
  bareB2bua, connectSrf, disconnectSrf, killSipps, sipp, startTestEdge, waitForListener, type AnySrf, type TestEdge,
} from '../edge/support.js';

for (const transport of ['udp', 'tcp'] as const) {
  describe(`edge over ${transport}: sipp → edge → srf B2BUA → sipp`, () => {
    let edge: TestEdge;
    let srf: AnySrf;
    let uasPort = 0;
    let stats: { calls: number; failures: number };

    beforeAll(async () => {
      edge = await startTestEdge();
      srf = await connectSrf(edge.controlPort);
      stats = bareB2bua(srf, (req) => `sip:${req.calledNumber}@127.0.0.1:${uasPort};transport=${transport}`);
    });
    afterEach(() => killSipps());
    afterAll(async () => {
      disconnectSrf(srf);
      await edge.close();
    });

    async function call(uacScenario: string, uasScenario: string, opts: { calls?: number; rate?: number; service?: string; uacExtra?: string[]; uasExtra?: string[] } = {}) {
      uasPort = await freePort();
      const uas = sipp({ scenario: uasScenario, port: uasPort, transport, calls: opts.calls ?? 1, timeoutS: 30, extra: opts.uasExtra });
      await waitForListener(uasPort, transport);
      const uac = sipp({
        scenario: uacScenario, remote: `127.0.0.1:${edge.sipPort}`, port: await freePort(), transport,
        calls: opts.calls ?? 1, rate: opts.rate ?? 10, service: opts.service ?? '2000', timeoutS: 30, extra: opts.uacExtra,
      });
      const [a, b] = await Promise.all([uac.done, uas.done]);
      return { uac: a, uas: b };
    }

    it('basic call: INVITE → 180 → 200 → ACK → BYE from the caller', async () => {
      const { uac, uas } = await call('edge-uac-basic.xml', 'edge-uas-basic.xml');
      expect(uac.errors).toBe('');
      expect(uac).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(stats.failures).toBe(0);
    });

    it('CANCEL while ringing: caller gets 200 + 487, carrier gets the relayed CANCEL', async () => {
      const { uac, uas } = await call('edge-uac-cancel.xml', 'edge-uas-cancel.xml');
      expect(uac.errors + uas.errors).toBe('');
      expect(uac).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 1, failed: 0, code: 0 });
    });

    it('486 from the carrier is relayed to the caller and ACKed by the stack on both legs', async () => {
      const { uac, uas } = await call('edge-uac-busy.xml', 'edge-uas-busy.xml');
      expect(uac.errors + uas.errors).toBe('');
      expect(uac).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 1, failed: 0, code: 0 });
    });

    it('re-INVITE mid-call is relayed through both dialogs', async () => {
      const { uac, uas } = await call('edge-uac-reinvite.xml', 'edge-uas-reinvite.xml');
      expect(uac.errors + uas.errors).toBe('');
      expect(uac).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 1, failed: 0, code: 0 });
    });

    it('BYE from the carrier side tears down the caller leg', async () => {
      const { uac, uas } = await call('edge-uac-bye-in.xml', 'edge-uas-bye-out.xml');
      expect(uac.errors + uas.errors).toBe('');
      expect(uac).toMatchObject({ successful: 1, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 1, failed: 0, code: 0 });
    });

    if (transport === 'udp') {
      it('retransmissions: both sipps drop 30% of what they receive, every call still completes', async () => {
        const { uac, uas } = await call('edge-uac-lossy.xml', 'edge-uas-lossy.xml', { calls: 20, rate: 10 });
        expect(uas.errors).toBe('');
        expect(uac).toMatchObject({ successful: 20, failed: 0, code: 0 });
        expect(uas).toMatchObject({ successful: 20, failed: 0, code: 0 });
      }, 60_000);
    }

    it('120 calls at 20 CPS with zero failures', async () => {
      const { uac, uas } = await call('edge-uac-basic.xml', 'edge-uas-basic.xml', { calls: 120, rate: 20 });
      expect(uac.errors).toBe('');
      expect(uac).toMatchObject({ successful: 120, failed: 0, code: 0 });
      expect(uas).toMatchObject({ successful: 120, failed: 0, code: 0 });
      expect(stats.failures).toBe(0);
      expect(edge.stats().dialogs).toBe(0); // every dialog of every call was released
    }, 60_000);
  });
}
