/**
 * CallSession's one end path, with in-memory test doubles for the two srf dialogs, the charging engine and the
 * limits (the real ones are exercised end to end in test/e2e/call-*.test.ts; here we drive the races directly).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CallFacts } from '../../src/cdr/types.js';
import type { ChargingEngine, Metering, SettleResult } from '../../src/charging/types.js';
import { CallSession } from '../../src/sip/call-session.js';
import type { Limits } from '../../src/sip/limits.js';
import type { Dialog } from '../../src/sip/srf-types.js';

class FakeDialog extends EventEmitter {
  byes: Record<string, string>[] = [];
  readonly id = 'd';
  readonly sip = { callId: 'b-call', localTag: 'l', remoteTag: 'r' };
  readonly local = { sdp: 'v=0\r\no=us 7 7 IN IP4 10.0.0.1\r\n' };
  readonly remote = { sdp: 'v=0\r\no=them 3 3 IN IP4 10.0.0.9\r\n' };
  async destroy(opts?: { headers?: Record<string, string> }): Promise<void> {
    this.byes.push(opts?.headers ?? {});
  }
  modifyHeaders: (Record<string, string> | undefined)[] = [];
  async modify(sdp: string, opts?: { headers?: Record<string, string> }): Promise<string> {
    this.modifyHeaders.push(opts?.headers);
    return `answer-to:${sdp}`;
  }
  async request(): Promise<never> {
    throw new Error('unused');
  }
}

function doubles() {
  const finished: CallFacts[] = [];
  const rejected: CallFacts[] = [];
  const released: string[] = [];
  const spent: bigint[] = [];
  let exhausted: ((cutAt: number) => void) | null = null;
  let stopped = 0;
  const charging: ChargingEngine = {
    authorize: async () => ({ ok: false, reason: 'no_rate', detail: '' }),
    async answered(_callId, _at, onExhausted): Promise<Metering> {
      exhausted = onExhausted;
      return { grantedUntil: 0, stop: () => void stopped++ };
    },
    async finish(facts): Promise<SettleResult> {
      finished.push(facts);
      return { chargeFen: 40n, billableSeconds: 4, duplicate: false, cdr: {} as SettleResult['cdr'] };
    },
    async recordRejected(facts) {
      rejected.push(facts);
    },
  };
  const limits = {
    release: async (_t: string, c: string) => void released.push(c),
    addSpend: async (_t: string, fen: bigint) => void spent.push(fen),
  } as unknown as Limits;
  const ended: CallSession[] = [];
  const session = new CallSession(
    { charging, limits, logger: pino({ level: 'silent' }), failurePolicy: 'terminate', onEnded: (s) => ended.push(s) },
    { callId: 'c1', aCallId: 'a-call', bCallId: null, tenantId: '7', caller: '+8657100000001', callee: '+8613800138000',
      ingressTrunk: 'ccc', gateway: 'gw', inviteAt: 1000, ringAt: 1100, answerAt: null },
  );
  return { session, finished, rejected, released, spent, ended, fire: (t: number) => exhausted!(t), stopped: () => stopped };
}

describe('CallSession: one idempotent end path (test doubles for dialogs, engine and limits)', () => {
  it('caller BYE: BYE only to the callee, settled once, slot released once, spend recorded', async () => {
    const d = doubles();
    d.session.markAdmitted();
    d.session.markGranted();
    const uas = new FakeDialog();
    const uac = new FakeDialog();
    await d.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, 2000);
    uas.emit('destroy', { get: (h: string) => (h === 'Reason' ? 'Q.850;cause=16;text="agent hung up"' : undefined) });
    await d.session.end({ side: 'system', reason: 'late duplicate' }); // a second cause is a no-op
    uac.emit('destroy'); // and so is the other leg's late BYE
    await d.session.end({ side: 'callee', reason: 'x' });
    expect(uas.byes).toEqual([]);
    expect(uac.byes).toEqual([{ Reason: 'Q.850;cause=16;text="agent hung up"' }]);
    expect(d.finished).toHaveLength(1);
    expect(d.finished[0]).toMatchObject({ result: 'answered', sipStatus: 200, disconnectSide: 'caller', disconnectReason: 'caller BYE', answerAt: 2000 });
    expect(d.released).toEqual(['c1']);
    expect(d.spent).toEqual([40n]);
    expect(d.ended).toHaveLength(1);
    expect(d.stopped()).toBeGreaterThanOrEqual(1);
  });

  it('balance exhausted: BYE on both legs with the Reason, racing a caller BYE, settles once', async () => {
    const d = doubles();
    d.session.markGranted();
    const uas = new FakeDialog();
    const uac = new FakeDialog();
    await d.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, 2000);
    d.fire(Date.now());
    uas.emit('destroy');
    await d.session.end({ side: 'caller', reason: 'caller BYE' });
    const bye = { Reason: 'Q.850;cause=16;text="balance exhausted"' };
    expect(uas.byes).toEqual([bye]);
    expect(uac.byes).toEqual([bye]);
    expect(d.finished).toHaveLength(1);
    expect(d.finished[0]).toMatchObject({ disconnectSide: 'system', disconnectReason: 'balance exhausted' });
    expect(d.released).toEqual([]); // never admitted in this test
  });

  it('cut before answer cancels the B-leg INVITE; a later answer is torn down at once', async () => {
    const d = doubles();
    d.session.markGranted();
    let canceled: Record<string, string> | undefined;
    d.session.trying({ cancel: (headers) => (canceled = headers) });
    await d.session.cut({ side: 'system', reason: 'operator suspension' });
    expect(canceled).toEqual({ Reason: 'Q.850;cause=16;text="operator suspension"' });
    expect(d.session.cutBeforeAnswer?.reason).toBe('operator suspension');
    const uas = new FakeDialog();
    const uac = new FakeDialog();
    await d.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, 3000);
    expect(uas.byes).toHaveLength(1);
    expect(uac.byes).toHaveLength(1);
    expect(d.finished[0]).toMatchObject({ disconnectReason: 'operator suspension' });
  });

  it('unanswered outcomes: a refused call is recorded as rejected, a granted one is finished (charged nothing)', async () => {
    const r = doubles();
    r.session.markAdmitted();
    await r.session.endUnanswered({ result: 'rejected', sipStatus: 402, rejectReason: 'no_balance', disconnectReason: 'no money' });
    await r.session.endUnanswered({ result: 'failed', sipStatus: 500 });
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ result: 'rejected', sipStatus: 402, rejectReason: 'no_balance', disconnectSide: 'system' });
    expect(r.finished).toHaveLength(0);
    expect(r.released).toEqual(['c1']);

    const c = doubles();
    c.session.markGranted();
    await c.session.endUnanswered({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });
    expect(c.finished[0]).toMatchObject({ result: 'canceled', sipStatus: 487, disconnectSide: 'caller', answerAt: null });
  });

  it('re-INVITE from one leg is relayed to the other and answered with its SDP', async () => {
    const d = doubles();
    const uas = new FakeDialog();
    const uac = new FakeDialog();
    await d.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, 2000);
    const sent: { status: number; body?: string }[] = [];
    uas.emit('modify', { body: 'offer-A' }, { send: (status: number, o?: { body?: string }) => sent.push({ status, ...(o?.body ? { body: o.body } : {}) }) });
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([{ status: 200, body: 'answer-to:offer-A' }]);
  });

  it('carrier session refresh (same SDP version) answered here with its Session-Expires, caller untouched; a media change is relayed; our re-INVITEs to the carrier carry our timer', async () => {
    const d = doubles();
    const uas = new FakeDialog();
    const uac = new FakeDialog();
    await d.session.connected(uas as unknown as Dialog, uac as unknown as Dialog, 2000, undefined, 90);
    const sent: { status: number; body?: string; headers?: Record<string, string> }[] = [];
    const res = { send: (status: number, o?: { body?: string; headers?: Record<string, string> }) => sent.push({ status, ...o }) };
    const req = (body: string, se?: string) => ({ body, get: (n: string) => (n === 'Session-Expires' ? se : undefined) });
    uac.emit('modify', req(uac.remote.sdp, '90;refresher=uac'), res);
    const changed = 'v=0\r\no=them 3 4 IN IP4 10.0.0.9\r\n';
    uac.emit('modify', req(changed, '90;refresher=uac'), res);
    uac.emit('update', req(''), res);
    await new Promise((r) => setImmediate(r));
    const timer = { 'Session-Expires': '90;refresher=uac', Require: 'timer' };
    expect(sent).toEqual([
      { status: 200, body: uac.local.sdp, headers: timer }, // the refresh: our SDP, no re-INVITE to the caller
      { status: 200, headers: {} }, // UPDATE without Session-Expires
      { status: 200, body: `answer-to:${changed}`, headers: timer }, // the media change went to the caller
    ]);
    expect(uas.modifyHeaders).toHaveLength(1);
    uas.emit('modify', { body: 'offer-A' }, res);
    await new Promise((r) => setImmediate(r));
    expect(uac.modifyHeaders).toEqual([{ 'Session-Expires': '90;refresher=uas', 'Min-SE': '90' }]);
  });
});
