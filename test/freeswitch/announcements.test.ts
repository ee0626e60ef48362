/**
 * Announcements on a real FreeSWITCH (drachtio-fsmrf) through the embedded edge, with real sipp calls, real
 * charging, Redis and PostgreSQL. The caller's and the callee's media ports are UDP sockets of this test: they count
 * RTP and find each prompt by its tone (Goertzel on the PCMU payload), so the test shows who heard what.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANGUAGES, PROMPTS } from '../../src/media/prompts.js';
import { projectPath } from '../../src/util/paths.js';
import type { Harness } from '../e2e/harness.js';
import { SIP_TEST_TARGET } from '../e2e/sip-target.js';
import { skipReason, startFreeSwitch, type FreeSwitch } from './freeswitch.js';
import { announced, callUntilCut, carrier, mediaHarness, openRtpSink, PROMPT_SECONDS, refusedCall } from './media-helpers.js';
import { ALL_TONES, TONES } from './rtp.js';

const promptFrames = Math.floor((PROMPT_SECONDS * 1000) / 20);

describe.skipIf(skipReason !== null)(skipReason ?? `announcements on a real FreeSWITCH (SIP server: ${SIP_TEST_TARGET})`, () => {
  let fs: FreeSwitch;
  let h: Harness;

  beforeAll(async () => {
    fs = await startFreeSwitch();
    ({ h } = await mediaHarness(fs));
  });
  afterAll(async () => {
    await h?.close();
    await fs?.stop();
  });

  it('the media servers\' addresses are in the edge\'s SIP source allow-list', () => {
    expect(h.sources.snapshot().media).toEqual(['127.0.0.1']);
  });

  it('402 no balance: the caller hears the no_balance prompt in a 183 session, then 402; no charge', async () => {
    const t = await h.tenant({ code: 'broke', number: '+8657188880001', balanceFen: 0n });
    const sink = await openRtpSink();
    const before = await announced('no_balance', 'played');
    const r = await refusedCall(h, { caller: '+8657188880001', status: 402, sink, early: true });
    expect(r).toMatchObject({ successful: 1, failed: 0 });
    expect(sink.dominant(ALL_TONES)?.freq).toBe(TONES.zh.no_balance);
    expect(sink.toneFrames(TONES.zh.no_balance)).toBeGreaterThanOrEqual(promptFrames * 0.8);
    expect(await announced('no_balance', 'played')).toBe(before + 1);
    const [cdr] = await h.cdrs({ tenantId: t }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', reject_reason: 'no_balance', sip_status: 402, charge_fen: 0n, answer_at: null });
    expect(await h.callCharges(t)).toBe(0n);
    await sink.close();
  });

  it('480 outside calling hours, tenant in English: the English outside_hours prompt', async () => {
    const t = await h.tenant({ code: 'night', number: '+8657188880002', balanceFen: 10_000n });
    await h.db.pool.query(
      `update tenants set announcement_language = 'en',
         calling_hours_from = ((now() at time zone 'Asia/Shanghai') + interval '2 hours')::time,
         calling_hours_to = ((now() at time zone 'Asia/Shanghai') + interval '3 hours')::time where id = $1`, [t]);
    const sink = await openRtpSink();
    const r = await refusedCall(h, { caller: '+8657188880002', status: 480, sink, early: true });
    expect(r).toMatchObject({ successful: 1, failed: 0 });
    expect(sink.dominant(ALL_TONES)?.freq).toBe(TONES.en.outside_hours);
    const [cdr] = await h.cdrs({ tenantId: t }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', reject_reason: 'hours', sip_status: 480, charge_fen: 0n });
    await sink.close();
  });

  it('403 suspended tenant: the tenant_suspended prompt', async () => {
    const t = await h.tenant({ code: 'susp', number: '+8657188880003', balanceFen: 10_000n });
    expect((await h.cli(['tenant', 'suspend', t, '--json'])).code).toBe(0); // the operator's real command
    const sink = await openRtpSink();
    const r = await refusedCall(h, { caller: '+8657188880003', status: 403, sink, early: true });
    expect(r).toMatchObject({ successful: 1, failed: 0 });
    expect(sink.dominant(ALL_TONES)?.freq).toBe(TONES.zh.tenant_suspended);
    const [cdr] = await h.cdrs({ tenantId: t }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', reject_reason: 'tenant', sip_status: 403, charge_fen: 0n });
    await sink.close();
  });

  it('low-credit warning: 40 s of credit, the caller alone hears it ~30 s before the cut; cut at 40 s, billed as the same call without warning', async () => {
    // 6 CNY/min = 10 fen/s: 400 fen = 40 s. Same credit, one tenant with the warning, one without, at the same time.
    const warned = await h.tenant({ code: 'warned', number: '+8657188880004', balanceFen: 400n });
    const plain = await h.tenant({ code: 'plain', number: '+8657188880005', balanceFen: 400n });
    await h.db.pool.query('update tenants set low_credit_warning = true where id = $1', [warned]);
    const callee = await openRtpSink();
    const callerW = await openRtpSink();
    const callerP = await openRtpSink();
    const gw = await carrier(h, callee, 2);
    const before = await announced('low_credit', 'played');
    let firstTone = 0;
    const watch = setInterval(() => {
      if (!firstTone && callerW.toneFrames(TONES.zh.low_credit) > 0) firstTone = Date.now();
    }, 20);
    const [rw, rp] = await Promise.all([
      callUntilCut(h, { caller: '+8657188880004', sink: callerW, warned: true }),
      callUntilCut(h, { caller: '+8657188880005', sink: callerP, warned: false }),
    ]);
    clearInterval(watch);
    expect(rw, rw.errors).toMatchObject({ successful: 1, failed: 0 }); // took exactly the two re-INVITEs, BYE "balance exhausted"
    expect(rp, rp.errors).toMatchObject({ successful: 1, failed: 0 }); // no re-INVITE at all: an unwarned call is never touched
    expect((await gw.done).failed).toBe(0); // the carrier got no re-INVITE either
    // the caller heard the warning prompt; the callee heard nothing, the unwarned caller nothing
    expect(callerW.dominant(ALL_TONES)?.freq).toBe(TONES.zh.low_credit);
    expect(callerW.toneFrames(TONES.zh.low_credit)).toBeGreaterThanOrEqual(promptFrames * 0.8);
    expect(callee.packets()).toBe(0);
    expect(callerP.packets()).toBe(0);
    expect(await announced('low_credit', 'played')).toBe(before + 1);

    const [cw] = await h.cdrs({ tenantId: warned }, 1);
    const [cp] = await h.cdrs({ tenantId: plain }, 1);
    for (const c of [cw!, cp!]) {
      expect(c).toMatchObject({ result: 'answered', disconnect_reason: 'balance exhausted', billable_seconds: 40, charge_fen: 400n });
    }
    expect(await h.callCharges(warned)).toBe(400n);
    expect(await h.ledgerBalance(warned)).toBe(0n);
    expect(await h.ledgerBalance(plain)).toBe(0n);
    // heard well before the cut and not before the last 30 s had begun (loose bounds: the machine is shared)
    const answer = cw!.answer_at!.getTime();
    const end = cw!.end_at.getTime();
    expect(firstTone).toBeGreaterThan(answer + 5_000);
    expect(firstTone).toBeLessThan(end - 20_000);
    for (const s of [callee, callerW, callerP]) await s.close();
  });

  it('the default prompts: `npm run prompts` makes every prompt and language reproducibly (8 kHz mono 16-bit), and FreeSWITCH plays them', async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'prompts-a-')), mkdtempSync(join(tmpdir(), 'prompts-b-'))];
    for (const d of dirs) execFileSync('bash', [projectPath('scripts', 'make-prompts.sh'), d], { stdio: 'ignore' });
    const hashes = dirs.map((d) => LANGUAGES.flatMap((l) => readdirSync(join(d, l)).sort().map((f) => `${l}/${f} ${createHash('sha256').update(readFileSync(join(d, l, f))).digest('hex')}`)));
    expect(hashes[0]).toHaveLength(LANGUAGES.length * PROMPTS.length);
    expect(hashes[0]).toEqual(hashes[1]);
    for (const l of LANGUAGES) {
      for (const p of PROMPTS) {
        const wav = readFileSync(join(dirs[0]!, l, `${p}.wav`));
        // RIFF/WAVE, PCM, mono, 8000 Hz, 16 bit, at least a second of audio
        expect([wav.toString('ascii', 0, 4), wav.toString('ascii', 8, 12), wav.readUInt16LE(20), wav.readUInt16LE(22), wav.readUInt32LE(24), wav.readUInt16LE(34)])
          .toEqual(['RIFF', 'WAVE', 1, 1, 8000, 16]);
        expect(wav.length).toBeGreaterThan(16_000);
      }
    }
    // FreeSWITCH plays a generated prompt: speech (loud frames), not silence
    const sink = await openRtpSink();
    const ms = h.media!.pool.pick()!.ms;
    const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${sink.port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
    const ep = await ms.createEndpoint({ remoteSdp: sdp });
    const played = await ep.play(join(dirs[0]!, 'zh', 'no_balance.wav'));
    await ep.dialog!.destroy();
    expect(Number(played.playbackMilliseconds)).toBeGreaterThan(1000);
    expect(sink.loudFrames()).toBeGreaterThan(25);
    await sink.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
});
