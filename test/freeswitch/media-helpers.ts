/** Shared pieces of the media tests: a harness with a real FreeSWITCH, calls whose media ports are test sockets. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics, type AnnouncementResult, type PromptLabel } from '../../src/observability/metrics.js';
import { runSipp, scenarioFor, startHarness, type Harness, type SippResult } from '../e2e/harness.js';
import { waitForListener } from '../edge/support.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import type { FreeSwitch } from './freeswitch.js';
import { makeTonePrompts, openRtpSink, type RtpSink } from './rtp.js';

export const PROMPT_SECONDS = 1.5;

export async function mediaHarness(fs: FreeSwitch, overrides: Record<string, unknown> = {}): Promise<{ h: Harness; promptsDir: string }> {
  const promptsDir = mkdtempSync(join(tmpdir(), 'media-prompts-'));
  makeTonePrompts(promptsDir, PROMPT_SECONDS);
  const h = await startHarness({
    'media.servers': [fs.spec], 'media.promptsDir': promptsDir, 'media.timeoutMs': 1500, 'media.reconnectSeconds': 1, ...overrides,
  });
  await eventually('media server up', () => h.media!.pool.status().every((s) => s.up), 20_000);
  return { h, promptsDir };
}

export async function announced(prompt: PromptLabel, result: AnnouncementResult): Promise<number> {
  const m = await metrics.announcementsTotal.get();
  return m.values.find((v) => v.labels.prompt === prompt && v.labels.result === result)?.value ?? 0;
}

/** A refused call whose caller media port is `sink`; early=true requires the 183 with SDP. */
export async function refusedCall(h: Harness, o: { caller: string; status: number; sink: RtpSink; early: boolean }): Promise<SippResult> {
  const scn = scenarioFor('media-uac-refused.xml', { STATUS: o.status, EARLY_OPTIONAL: o.early ? 'false' : 'true' });
  return runSipp(scn, [
    `127.0.0.1:${h.target.sipPort}`, '-p', String(await freePort()), '-m', '1', '-s', '13800138000',
    '-key', 'caller', o.caller, '-key', 'rtp_port', String(o.sink.port),
  ]);
}

/** A call that runs until the softswitch cuts it; warned=true requires the two re-INVITEs of the warning. */
export async function callUntilCut(h: Harness, o: { caller: string; sink: RtpSink; warned: boolean }): Promise<SippResult> {
  const scn = scenarioFor('media-uac-warned.xml', o.warned ? { '<!--REINVITES': '', 'REINVITES-->': '' } : {});
  return runSipp(scn, [
    `127.0.0.1:${h.target.sipPort}`, '-p', String(await freePort()), '-m', '1', '-s', '13800138000',
    '-key', 'caller', o.caller, '-key', 'rtp_port', String(o.sink.port),
  ], '127.0.0.1', 90);
}

/** The carrier: answers `calls` calls with its media on `sink` (it must hear nothing of the announcements). */
export async function carrier(h: Harness, sink: RtpSink, calls: number): Promise<{ done: Promise<SippResult> }> {
  const port = await freePort();
  await h.gateways([{ name: 'gw-media', port }]);
  const done = runSipp('media-uas-answer.xml', ['-p', String(port), '-m', String(calls), '-key', 'rtp_port', String(sink.port)], '127.0.0.1', 90);
  await waitForListener(port, 'udp');
  return { done };
}

export { openRtpSink };
