/**
 * Calls of a lost drachtio server (src/sip/lost-server.ts), with test doubles for the srf (its in-dialog requests),
 * the dialogs and the charging engine: the real server loss runs in test/e2e/app-servers*.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CallFacts } from '../../src/cdr/types.js';
import type { ChargingEngine, SettleResult } from '../../src/charging/types.js';
import { newCallContext, type CallContext, type Outcome } from '../../src/sip/call-context.js';
import { CallSession } from '../../src/sip/call-session.js';
import type { Limits } from '../../src/sip/limits.js';
import { LostServers, lostUnanswered } from '../../src/sip/lost-server.js';
import type { SipServer } from '../../src/sip/servers.js';
import type { Dialog, SrfRequest, SrfResponse, TypedSrf } from '../../src/sip/srf-types.js';

const logger = pino({ level: 'silent' });

class FakeDialog extends EventEmitter {
  byes: Record<string, string>[] = [];
  readonly sip = { callId: 'b', localTag: 'l', remoteTag: 'r' };
  readonly local = { sdp: '' };
  readonly remote = { sdp: '' };
  constructor(readonly id: string) {
    super();
  }
  async destroy(opts?: { headers?: Record<string, string> }): Promise<void> {
    this.byes.push(opts?.headers ?? {});
  }
}

function server(name: string) {
  const requests: { uri: string; method: string; stackDialogId?: string; headers?: Record<string, string> }[] = [];
  const srf = { request: async (uri: string, o: { method: string; stackDialogId?: string; headers?: Record<string, string> }) => void requests.push({ uri, ...o }) };
  return { server: { name, srf: srf as unknown as TypedSrf, up: false } as SipServer, requests };
}

const finished: CallFacts[] = [];
const charging: ChargingEngine = {
  authorize: async () => ({ ok: false, reason: 'no_rate', detail: '' }),
  answered: async () => ({ grantedUntil: 0, stop: () => undefined }),
  async finish(facts): Promise<SettleResult> {
    finished.push(facts);
    return { chargeFen: 0n, billableSeconds: 0, duplicate: false, cdr: {} as SettleResult['cdr'] };
  },
  recordRejected: async (facts) => void finished.push(facts),
};
const limits = { release: async () => undefined, addSpend: async () => undefined } as unknown as Limits;

let n = 0;
function call(on: SipServer): CallContext & { session: CallSession } {
  const callId = `c${++n}`;
  const ctx = newCallContext(on, {} as SrfRequest, {} as SrfResponse, logger);
  ctx.session = new CallSession(
    { charging, limits, logger, failurePolicy: 'terminate', onEnded: () => undefined },
    { callId, aCallId: callId, bCallId: null, tenantId: '7', caller: '+8657100000001', callee: '+8613800138000', ingressTrunk: 'ccc', gateway: null, inviteAt: 0, ringAt: null, answerAt: null },
  );
  return ctx as CallContext & { session: CallSession };
}

async function answered(on: SipServer): Promise<{ ctx: CallContext & { session: CallSession }; uas: FakeDialog; uac: FakeDialog }> {
  const ctx = call(on);
  const uas = new FakeDialog(`a${n}`);
  const uac = new FakeDialog(`b${n}`);
  ctx.session.markGranted();
  await ctx.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, Date.now());
  ctx.dialogIds = [uas.id, uac.id];
  return { ctx, uas, uac };
}

describe('lost drachtio server (test doubles for srf, dialogs and charging engine)', () => {
  it('its answered calls end now with BYE on both legs; its unanswered ones are marked lost and their attempt stops waiting; other servers\' calls go on', async () => {
    const a = server('A');
    const b = server('B');
    const live = await answered(a.server);
    const ringing = call(a.server);
    const stops: Outcome[] = [];
    ringing.onLost = (o) => stops.push(o);
    const elsewhere = await answered(b.server);
    const contexts = new Map<string, CallContext>([live.ctx, ringing, elsewhere.ctx].map((c) => [c.session!.callId, c]));
    const lost = new LostServers(contexts, logger);

    lost.serverDown(a.server);
    await live.ctx.session.end({ side: 'system', reason: 'later cause' }); // the loss's end is the one that counts
    const bye = { Reason: 'Q.850;cause=16;text="service unavailable"' };
    expect(live.uas.byes).toEqual([bye]);
    expect(live.uac.byes).toEqual([bye]);
    expect(finished.find((f) => f.callId === live.ctx.session.callId)).toMatchObject({ result: 'answered', disconnectSide: 'system', disconnectReason: 'drachtio server A lost' });
    expect(ringing.lost).toBe('drachtio server A lost');
    expect(stops).toEqual([{ ok: false, status: 503, reason: 'drachtio server A lost' }]);
    expect(ringing.session.ended).toBe(false); // its routing ends it (lostUnanswered)
    expect(elsewhere.ctx.lost).toBeNull();
    expect(elsewhere.ctx.session.ended).toBe(false);

    await lostUnanswered(ringing);
    expect(finished.find((f) => f.callId === ringing.session.callId)).toMatchObject({ result: 'failed', sipStatus: 503, disconnectReason: 'drachtio server A lost' });

    lost.serverDown(a.server); // a second loss finds nothing more to end
    expect(live.uas.byes).toHaveLength(1);
  });

  it('once the server is back, each dialog of a call ended while it was lost gets one BYE through it, then is forgotten', async () => {
    const a = server('A');
    const one = await answered(a.server);
    const two = await answered(a.server);
    const lost = new LostServers(new Map([one.ctx, two.ctx].map((c) => [c.session.callId, c])), logger);
    lost.serverDown(a.server);
    lost.serverUp(a.server);
    expect(a.requests.map((r) => [r.method, r.stackDialogId])).toEqual([['BYE', one.uas.id], ['BYE', one.uac.id], ['BYE', two.uas.id], ['BYE', two.uac.id]]);
    expect(a.requests[0]?.headers).toEqual({ Reason: 'Q.850;cause=16;text="service unavailable"' });
    lost.serverUp(a.server);
    expect(a.requests).toHaveLength(4);
  });

  it('lostAnswered refuses a call that is not answered (it would be settled as answered)', async () => {
    const a = server('A');
    const ringing = call(a.server);
    ringing.lost = 'drachtio server A lost';
    await expect(new LostServers(new Map(), logger).lostAnswered(ringing)).rejects.toThrow(/not answered and lost/);
    expect(ringing.session.ended).toBe(false);
  });
});
