/**
 * Protocol compatibility: real drachtio-srf apps (createUAC, createUAS, request, proxyRequest, dialogs) talk to
 * each other through embedded edges over real SIP. Edge A carries the caller app, edge B the callee app, edge C a
 * second callee for the proxy case. The same suite is what a real drachtio-server would have to pass.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { connectSrf, disconnectSrf, startTestEdge, type AnySrf, type TestEdge } from './support.js';

const SDP_A = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/AVP 8\r\n';
const SDP_B = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 8\r\n';

/** What the callee app does with the next INVITE, chosen per test. */
type Behaviour = (req: AnySrf, res: AnySrf) => void | Promise<void>;

for (const proto of ['udp', 'tcp'] as const) {
  describe(`drachtio-srf through the edge (${proto})`, () => {
    let a: TestEdge, b: TestEdge, c: TestEdge;
    let caller: AnySrf, callee: AnySrf, third: AnySrf;
    let behaviour: Behaviour = () => undefined;
    let thirdEnded: Promise<void> = Promise.resolve();
    const uriB = (user = 'bob'): string => `sip:${user}@127.0.0.1:${b.sipPort};transport=${proto}`;

    beforeAll(async () => {
      [a, b, c] = await Promise.all([startTestEdge(), startTestEdge(), startTestEdge()]);
      [caller, callee, third] = await Promise.all([connectSrf(a.controlPort), connectSrf(b.controlPort), connectSrf(c.controlPort)]);
      callee.invite((req: AnySrf, res: AnySrf) => behaviour(req, res));
      callee.options((_req: AnySrf, res: AnySrf) => res.send(200, { headers: { 'X-Who': 'callee' } }));
      third.invite(async (req: AnySrf, res: AnySrf) => {
        const d = await third.createUAS(req, res, { localSdp: SDP_B });
        thirdEnded = new Promise<void>((resolve) => d.on('destroy', () => resolve()));
      });
    });
    afterAll(async () => {
      for (const s of [caller, callee, third]) disconnectSrf(s);
      await Promise.all([a.close(), b.close(), c.close()]);
    });

    it('createUAC ⇄ createUAS: SDP both ways, INFO and re-INVITE in dialog, BYE ends both dialogs', async () => {
      const calleeDialog = new Promise<AnySrf>((resolve) => {
        behaviour = async (req, res) => resolve(await callee.createUAS(req, res, { localSdp: SDP_B }));
      });
      const uac = await caller.createUAC(uriB(), { localSdp: SDP_A, headers: { From: '<sip:alice@localhost>' } });
      const uas = await calleeDialog;
      expect(uac.remote.sdp).toBe(SDP_B);
      expect(uas.remote.sdp).toBe(SDP_A);
      expect(uac.id).toMatch(/;from-tag=/);
      expect(uas.id).toBe(uac.id); // both ends name the dialog by Call-ID + the UAC's From tag

      const info = new Promise<AnySrf>((resolve) => uas.on('info', (req: AnySrf, res: AnySrf) => { res.send(200); resolve(req); }));
      const infoRes = await uac.request({ method: 'INFO', headers: { 'Content-Type': 'application/x-test' }, body: 'ping' });
      expect(infoRes.status).toBe(200);
      expect((await info).body).toBe('ping');

      const modified = new Promise<string>((resolve) => uas.on('modify', (req: AnySrf, res: AnySrf) => { res.send(200, { body: SDP_B }); resolve(req.body); }));
      const newRemote = await uac.modify(SDP_A.replace('10000', '10002'));
      expect(newRemote).toBe(SDP_B);
      expect(await modified).toContain('10002');

      const ended = new Promise<void>((resolve) => uas.on('destroy', () => resolve()));
      await uac.destroy();
      await ended;
      // the dialog is gone on the edge too: another request in it is refused with ENODIALOG
      await expect(uac.request({ method: 'INFO' })).rejects.toMatchObject({ code: 'ENODIALOG' });
    });

    it('BYE from the callee side destroys the caller dialog', async () => {
      const calleeDialog = new Promise<AnySrf>((resolve) => {
        behaviour = async (req, res) => resolve(await callee.createUAS(req, res, { localSdp: SDP_B }));
      });
      const uac = await caller.createUAC(uriB(), { localSdp: SDP_A });
      const uas = await calleeDialog;
      const ended = new Promise<AnySrf>((resolve) => uac.on('destroy', (bye: AnySrf) => resolve(bye)));
      await uas.destroy();
      const bye = await ended;
      expect(bye.method).toBe('BYE');
      expect(bye.get('Call-ID')).toBe(uac.sip.callId);
      expect(uac.connected).toBe(false);
    });

    it('non-2xx final: caller gets a SipError with the status (stack ACKs it)', async () => {
      behaviour = (_req, res) => res.send(486, 'Busy Here');
      await expect(caller.createUAC(uriB(), { localSdp: SDP_A })).rejects.toMatchObject({ status: 486 });
    });

    it('CANCEL after ringing: callee sees the cancel, caller gets 487', async () => {
      const canceled = new Promise<void>((resolve) => {
        behaviour = (req, res) => {
          req.on('cancel', () => resolve());
          res.send(180);
        };
      });
      let inviteReq: AnySrf;
      const p = caller.createUAC(uriB(), { localSdp: SDP_A }, {
        cbRequest: (_err: unknown, req: AnySrf) => { inviteReq = req; },
        cbProvisional: (res: AnySrf) => { if (res.status === 180) inviteReq.cancel(); },
      });
      await expect(p).rejects.toMatchObject({ status: 487 });
      await canceled;
    });

    it('quick CANCEL before the callee app answered anything', async () => {
      const canceled = new Promise<void>((resolve) => {
        behaviour = (req) => { req.on('cancel', () => resolve()); };
      });
      const p = caller.createUAC(uriB(), { localSdp: SDP_A }, {
        cbRequest: (_err: unknown, req: AnySrf) => setTimeout(() => req.cancel(), 100),
      });
      await expect(p).rejects.toMatchObject({ status: 487 });
      await canceled;
    });

    it('reliable provisional (100rel): the callee app gets the caller\'s PRACK naming its 183, answers only then; the call connects', async () => {
      let onPrack!: (prack: AnySrf) => void;
      const pracked = new Promise<AnySrf>((resolve) => (onPrack = resolve));
      const calleeDialog = new Promise<AnySrf>((resolve) => {
        behaviour = async (req, res) => {
          res.send(183, { headers: { Require: '100rel' }, body: SDP_B }, null, (prack: AnySrf) => onPrack(prack));
          await pracked; // the answer waits for the PRACK itself, not for a timer
          resolve(await callee.createUAS(req, res, { localSdp: SDP_B }));
        };
      });
      const provisionals: AnySrf[] = [];
      const uac = await caller.createUAC(uriB(), { localSdp: SDP_A, headers: { Supported: '100rel' } }, {
        cbProvisional: (res: AnySrf) => provisionals.push(res),
      });
      const uas = await calleeDialog;
      const reliable = provisionals.filter((r) => r.status === 183);
      expect(reliable).toHaveLength(1); // passed to the caller app once
      expect(reliable[0].get('Require')).toMatch(/100rel/);
      const rseq = reliable[0].get('RSeq');
      expect(rseq).toMatch(/^[1-9]\d*$/); // random start below 2^31, as sofia picks it
      const prack = await pracked;
      expect(prack.method).toBe('PRACK');
      expect(prack.get('RAck')).toBe(`${rseq} ${reliable[0].get('CSeq')}`);
      await uac.destroy();
      await new Promise<void>((resolve) => (uas.connected === false ? resolve() : uas.on('destroy', () => resolve())));
    });

    it('out-of-dialog request: OPTIONS answered by the routed app', async () => {
      const req = await caller.request(uriB('ping'), { method: 'OPTIONS' });
      const res = await new Promise<AnySrf>((resolve) => req.on('response', resolve));
      expect(res.status).toBe(200);
      expect(res.get('X-Who')).toBe('callee');
    });

    it('503 when no app routed the method', async () => {
      const req = await caller.request(uriB(), { method: 'MESSAGE', headers: { 'Content-Type': 'text/plain' }, body: 'hi' });
      const res = await new Promise<AnySrf>((resolve) => req.on('response', resolve));
      expect(res.status).toBe(503);
    });

    it('proxyRequest with record-route: caller reaches the third app through B, BYE follows the route', async () => {
      const proxied = new Promise<AnySrf>((resolve, reject) => {
        behaviour = (req) => {
          callee.proxyRequest(req, [`sip:carol@127.0.0.1:${c.sipPort};transport=${proto}`], { recordRoute: true })
            .then(resolve, reject);
        };
      });
      const uac = await caller.createUAC(uriB('carol'), { localSdp: SDP_A });
      expect(uac.remote.sdp).toBe(SDP_B);
      const result = await proxied;
      expect(result).toMatchObject({ connected: true, finalStatus: 200 });
      await uac.destroy(); // travels caller → A → B (Route) → C
      await thirdEnded;
    });

    if (proto === 'tcp') {
      it('TCP peer that refuses the connection: the app gets 503 at once', async () => {
        const dead = await freePort();
        await expect(caller.createUAC(`sip:x@127.0.0.1:${dead};transport=tcp`, { localSdp: SDP_A })).rejects.toMatchObject({ status: 503 });
      });
    }

    // every case, whatever its outcome, leaves no dialog behind on any edge
    afterEach(async () => {
      await expect.poll(() => [a.stats().dialogs, b.stats().dialogs, c.stats().dialogs]).toEqual([0, 0, 0]);
    });
  });
}
