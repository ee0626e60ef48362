/**
 * End to end over real SIP: sipp (caller) → embedded edge → drachtio-srf bare B2BUA → edge → sipp (carrier).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import {
  bareB2bua, connectSrf, disconnectSrf, killSipps, sipp, startTestEdge, waitMs, type AnySrf, type TestEdge,
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
      await waitMs(300);
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
  });
}
