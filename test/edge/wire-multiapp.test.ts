/**
 * Several srf apps on one edge (as with several app instances against one drachtio-server): new INVITEs are spread
 * round-robin over the apps that routed `invite`, and in-dialog requests go back to the app owning the dialog.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from './support.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 1 RTP/AVP 8\r\n';

describe('several apps on one edge', () => {
  let a: TestEdge, b: TestEdge;
  let caller: AnySrf;
  const apps: AnySrf[] = [];
  const answeredBy: number[] = [];
  const infoSeenBy: number[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestEdge(), startTestEdge()]);
    caller = await connectSrf(a.controlPort);
    for (let i = 0; i < 2; i++) {
      const app = await connectSrf(b.controlPort);
      app.invite(async (req: AnySrf, res: AnySrf) => {
        answeredBy.push(i);
        const d = await app.createUAS(req, res, { localSdp: SDP });
        d.on('info', (_r: AnySrf, r2: AnySrf) => { infoSeenBy.push(i); r2.send(200); });
      });
      apps.push(app);
    }
  });
  afterAll(async () => {
    for (const s of [caller, ...apps]) disconnectSrf(s);
    await Promise.all([a.close(), b.close()]);
  });

  it('round-robin for new calls, in-dialog requests to the owner', async () => {
    const calls = [];
    for (let n = 0; n < 4; n++) calls.push(await caller.createUAC(`sip:u${n}@127.0.0.1:${b.sipPort}`, { localSdp: SDP }));
    expect([...answeredBy].sort()).toEqual([0, 0, 1, 1]);
    for (const d of calls) expect((await d.request({ method: 'INFO' })).status).toBe(200);
    expect(infoSeenBy).toEqual(answeredBy); // each INFO reached the app that answered that call
    for (const d of calls) await d.destroy();
    expect(b.stats().dialogs).toBe(0);
  });
});
