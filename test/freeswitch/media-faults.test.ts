/**
 * A media server that is down, dies mid-call or never connects must cost the calls nothing: FreeSWITCH is
 * SIGKILLed while a prompt plays and while a warned call runs; the refusal still comes, the warned call is still cut
 * at the exact second and billed exactly, the announcements are counted as skipped/failed, and the app reconnects
 * when FreeSWITCH is back. Real FreeSWITCH, real sipp, real charging.
 */
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/observability/metrics.js';
import { startMediaPool } from '../../src/media/pool.js';
import type { TypedSrf } from '../../src/sip/srf-types.js';
import type { Harness } from '../e2e/harness.js';
import { freePort } from '../helpers/ports.js';
import { skipReason, startFreeSwitch, type FreeSwitch } from './freeswitch.js';
import { announced, callUntilCut, carrier, mediaHarness, openRtpSink, refusedCall } from './media-helpers.js';
import { eventually } from '../helpers/poll.js';
import { ALL_TONES, TONES, toneWav } from './rtp.js';

async function serverUp(name: string): Promise<number | undefined> {
  return (await metrics.mediaServerUp.get()).values.find((v) => v.labels.server === name)?.value;
}

describe.skipIf(skipReason !== null)(skipReason ?? 'media server faults (real FreeSWITCH killed)', () => {
  let fs: FreeSwitch;
  let h: Harness;
  let promptsDir: string;

  beforeAll(async () => {
    fs = await startFreeSwitch();
    ({ h, promptsDir } = await mediaHarness(fs));
    // a long no_balance prompt, so FreeSWITCH can be killed while it plays
    toneWav(join(promptsDir, 'zh', 'no_balance.wav'), TONES.zh.no_balance, 8);
  });
  afterAll(async () => {
    await h?.close();
    await fs?.stop();
  });

  it('FreeSWITCH killed mid-test: the refusal still comes, the warned call is cut at 40 s and billed exactly, announcements skipped; back after restart', async () => {
    const name = `127.0.0.1:${fs.eslPort}`;
    const warned = await h.tenant({ code: 'warned', number: '+8657188881004', balanceFen: 400n });
    await h.db.pool.query('update tenants set low_credit_warning = true where id = $1', [warned]);
    const broke = await h.tenant({ code: 'broke', number: '+8657188881001', balanceFen: 0n });
    const callee = await openRtpSink();
    const callerW = await openRtpSink();
    const gw = await carrier(h, callee, 1);
    const skippedWarnings = await announced('low_credit', 'skipped');
    const failedPrompts = await announced('no_balance', 'failed');
    const skippedPrompts = await announced('no_balance', 'skipped');

    // the warned call runs (its warning would be due ~10 s after answer); no re-INVITE may reach it
    const warnedCall = callUntilCut(h, { caller: '+8657188881004', sink: callerW, warned: false });
    await eventually('warned call answered', () => h.app.answeredCalls() === 1);

    // a refusal whose prompt is playing when FreeSWITCH dies
    const sink1 = await openRtpSink();
    const refused1 = refusedCall(h, { caller: '+8657188881001', status: 402, sink: sink1, early: true });
    await eventually('prompt playing', () => sink1.packets() > 25);
    await fs.kill();
    const r1 = await refused1;
    expect(r1, r1.errors).toMatchObject({ successful: 1, failed: 0 }); // 183, then the 402 all the same
    expect(sink1.toneFrames(TONES.zh.no_balance)).toBeLessThan(8 * 50 * 0.8); // cut short: not the whole 8 s
    expect(await announced('no_balance', 'failed')).toBe(failedPrompts + 1);
    await eventually('server marked down', async () => (await serverUp(name)) === 0);
    expect(h.media!.pool.status()).toEqual([{ name, up: false }]);

    // while it is down: a refusal at once, no 183, nothing heard; counted as skipped
    const sink2 = await openRtpSink();
    const r2 = await refusedCall(h, { caller: '+8657188881001', status: 402, sink: sink2, early: false });
    expect(r2, r2.errors).toMatchObject({ successful: 1, failed: 0 });
    expect(sink2.packets()).toBe(0);
    expect(await announced('no_balance', 'skipped')).toBe(skippedPrompts + 1);

    // the warned call goes on untouched and is cut at the exact second, billed exactly
    const rw = await warnedCall;
    expect(rw, rw.errors).toMatchObject({ successful: 1, failed: 0 });
    expect((await gw.done).failed).toBe(0);
    expect(callerW.packets()).toBe(0);
    expect(callee.packets()).toBe(0);
    expect(await announced('low_credit', 'skipped')).toBe(skippedWarnings + 1);
    const [cw] = await h.cdrs({ tenantId: warned }, 1);
    expect(cw).toMatchObject({ result: 'answered', disconnect_reason: 'balance exhausted', billable_seconds: 40, charge_fen: 400n });
    expect(await h.ledgerBalance(warned)).toBe(0n);
    const refusals = await h.cdrs({ tenantId: broke }, 2);
    expect(refusals.map((c) => [c.sip_status, c.charge_fen])).toEqual([[402, 0n], [402, 0n]]);

    // FreeSWITCH back: the app reconnects by itself and prompts play again
    await fs.restart();
    await eventually('server up again', async () => (await serverUp(name)) === 1, 30_000);
    toneWav(join(promptsDir, 'zh', 'no_balance.wav'), TONES.zh.no_balance, 1.5);
    const sink3 = await openRtpSink();
    const r3 = await refusedCall(h, { caller: '+8657188881001', status: 402, sink: sink3, early: true });
    expect(r3, r3.errors).toMatchObject({ successful: 1, failed: 0 });
    expect(sink3.dominant(ALL_TONES)?.freq).toBe(TONES.zh.no_balance);
    for (const s of [callee, callerW, sink1, sink2, sink3]) await s.close();
  });
});

describe('media server connection failures (no FreeSWITCH needed)', () => {
  const logger = pino({ level: 'silent' });
  const srf = {} as TypedSrf; // never used: no connection gets as far as SIP

  it('a refused port and a peer that hangs up: down, retried at the reconnect interval only, nothing left after close', async () => {
    const refused = await freePort();
    let accepted = 0;
    const sockets: Socket[] = [];
    const rude = createServer((s) => {
      accepted++;
      sockets.push(s);
      s.destroy(); // an event socket that drops every login
    });
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', () => r()));
    const rudePort = (rude.address() as { port: number }).port;
    const allowed: string[][] = [];
    const pool = startMediaPool({
      srf, servers: [`127.0.0.1:${refused}:ClueCon`, `127.0.0.1:${rudePort}:secret:with:colons`], listenAddress: '127.0.0.1', advertisedAddress: '',
      timeoutMs: 500, reconnectMs: 500, logger, onSipHosts: (hosts) => allowed.push(hosts),
    });
    expect(allowed).toEqual([['127.0.0.1']]); // the edge's allow-list gets the media hosts at once
    await new Promise((r) => setTimeout(r, 2600));
    expect(pool.pick()).toBeNull();
    expect(pool.status()).toEqual([{ name: `127.0.0.1:${refused}`, up: false }, { name: `127.0.0.1:${rudePort}`, up: false }]);
    // about one attempt per 500 ms (drachtio-modesl alone would retry within milliseconds, forever)
    expect(accepted).toBeGreaterThanOrEqual(2);
    expect(accepted).toBeLessThanOrEqual(8);
    const probes = await Promise.all(pool.probes().map(([, p]) => p()));
    expect(pool.probes().map(([n]) => n)).toEqual(['media_1', 'media_2']);
    expect(probes).toEqual([false, false]);
    await pool.close();
    const after = accepted;
    await new Promise((r) => setTimeout(r, 1200));
    expect(accepted).toBe(after);
    rude.close();
  });

  it('a wrong event-socket password is a failed connection, not a hang', async () => {
    const wrong = createServer((s) => {
      s.write('Content-Type: auth/request\n\n');
      s.on('data', () => s.write('Content-Type: command/reply\nReply-Text: -ERR invalid\n\n'));
    });
    await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', () => r()));
    const port = (wrong.address() as { port: number }).port;
    const pool = startMediaPool({ srf, servers: [`127.0.0.1:${port}:nope`], listenAddress: '127.0.0.1', advertisedAddress: '', timeoutMs: 500, reconnectMs: 60_000, logger });
    await new Promise((r) => setTimeout(r, 600));
    expect(pool.status()).toEqual([{ name: `127.0.0.1:${port}`, up: false }]);
    await pool.close();
    wrong.close();
  });
});
