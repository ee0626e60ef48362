/**
 * What drachtio-fsmrf and the announcements ask of the edge, with real drachtio-srf apps on two edges:
 * early media (183 with SDP) before a refusal whose To-tag matches the 183's; an INVITE carrying fsmrf's
 * User-Agent and X-esl-outbound headers through unchanged; a re-INVITE from the UAS side of a call (the warning
 * points the caller at the media server and back) with the dialog's SDP kept current on both ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from './support.js';

const SDP_A = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0\r\n';
const SDP_B = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n';
const SDP_MS = 'v=0\r\no=b 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n';

type Behaviour = (req: AnySrf, res: AnySrf) => void | Promise<void>;

describe('what drachtio-fsmrf needs of the edge', () => {
  let a: TestEdge, b: TestEdge;
  let caller: AnySrf, callee: AnySrf;
  let behaviour: Behaviour = () => undefined;
  const uriB = (): string => `sip:bob@127.0.0.1:${b.sipPort}`;

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestEdge(), startTestEdge()]);
    [caller, callee] = await Promise.all([connectSrf(a.controlPort), connectSrf(b.controlPort)]);
    callee.invite((req: AnySrf, res: AnySrf) => behaviour(req, res));
  });
  afterAll(async () => {
    for (const s of [caller, callee]) disconnectSrf(s);
    await Promise.all([a.close(), b.close()]);
  });

  it('183 Session Progress with SDP (early media), then 402: the caller gets both, one early dialog (same To-tag)', async () => {
    behaviour = (_req, res) => {
      res.send(183, 'Session Progress', { headers: { 'Content-Type': 'application/sdp' }, body: SDP_MS });
      setTimeout(() => res.send(402, 'Payment Required'), 100);
    };
    const provisionals: AnySrf[] = [];
    const err = await caller.createUAC(uriB(), { localSdp: SDP_A }, { cbProvisional: (p: AnySrf) => provisionals.push(p) }).catch((e: AnySrf) => e);
    expect(err).toMatchObject({ status: 402 });
    const early = provisionals.find((p) => p.status === 183);
    expect(early?.body).toBe(SDP_MS);
    expect(early?.get('Content-Type')).toBe('application/sdp');
    const tag183 = early!.getParsedHeader('To').params.tag;
    expect(tag183).toBeTruthy();
    expect(err.res.getParsedHeader('To').params.tag).toBe(tag183);
  });

  it('the media INVITE keeps fsmrf\'s User-Agent and X-esl-outbound headers', async () => {
    const seen = new Promise<AnySrf>((resolve) => {
      behaviour = async (req, res) => {
        resolve(req);
        await callee.createUAS(req, res, { localSdp: SDP_B });
      };
    });
    const uac = await caller.createUAC(uriB(), { localSdp: SDP_A, headers: { 'User-Agent': 'drachtio-fsmrf:0f1e2d3c', 'X-esl-outbound': '127.0.0.1:34567' } });
    const req = await seen;
    expect(req.get('User-Agent')).toBe('drachtio-fsmrf:0f1e2d3c');
    expect(req.get('X-esl-outbound')).toBe('127.0.0.1:34567');
    await uac.destroy();
  });

  it('re-INVITE from the UAS side (toward the caller) and back: both ends keep the current SDP', async () => {
    const calleeDialog = new Promise<AnySrf>((resolve) => {
      behaviour = async (req, res) => resolve(await callee.createUAS(req, res, { localSdp: SDP_B }));
    });
    const uac = await caller.createUAC(uriB(), { localSdp: SDP_A });
    const uas = await calleeDialog;
    const offers: string[] = [];
    uac.on('modify', (req: AnySrf, res: AnySrf) => {
      offers.push(req.body);
      res.send(200, { body: SDP_A.replace('o=a 1 1', `o=a 1 ${offers.length + 1}`) });
    });
    expect(await uas.modify(SDP_MS)).toContain('o=a 1 2');
    expect(uac.remote.sdp).toBe(SDP_MS);
    expect(await uas.modify(SDP_B.replace('o=b 1 1', 'o=b 1 3'))).toContain('o=a 1 3');
    expect(offers.map((o) => /m=audio (\d+)/.exec(o)![1])).toEqual(['30000', '20000']);
    expect(uas.local.sdp).toContain('o=b 1 3');
    const ended = new Promise<void>((resolve) => uas.on('destroy', () => resolve()));
    await uac.destroy();
    await ended;
  });
});
