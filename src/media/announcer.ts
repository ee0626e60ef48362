/**
 * Announcements on a FreeSWITCH media server (drachtio-fsmrf), never at the expense of a call:
 *
 *   refusal  before a 402/480/403 final response: an endpoint answering the caller's SDP offer, a 183 Session
 *            Progress carrying the endpoint's SDP (early media: nothing answered, nothing billed), the prompt,
 *            then the caller (app.ts) sends the final response.
 *   warning  on an answered call whose credit runs out soon: an endpoint answering the caller's SDP, a re-INVITE
 *            pointing the caller's media at it, the prompt, a re-INVITE pointing it back at the callee, BYE to the
 *            endpoint. The callee's media is never touched, so the callee does not hear it, and calls without a
 *            warning never meet the media server (docs/sip.md, "Announcements").
 *
 * Every step is bounded (MEDIA_TIMEOUT_MS; the prompt by MEDIA_PROMPT_MAX_SECONDS) and stops at once when the
 * media server's event socket is lost or the caller goes away. Nothing here throws: each announcement ends with
 * one softswitch_announcements_total{prompt,result} count, and the call goes on as if there had been none.
 */
import { metrics, type AnnouncementResult } from '../observability/metrics.js';
import type { Dialog, SrfRequest, SrfResponse } from '../sip/srf-types.js';
import type { Logger } from '../util/logger.js';
import type { FsEndpoint } from './fsmrf.js';
import type { MediaLease, MediaPool } from './pool.js';
import { promptFile, type Language, type PromptName } from './prompts.js';
import { audioTarget, originOf, withOrigin } from './sdp.js';

interface AnnouncerOptions {
  pool: MediaPool;
  promptsDir: string;
  timeoutMs: number;
  promptMaxSeconds: number;
  logger: Logger;
}

interface RefusalAnnouncement {
  req: SrfRequest;
  res: SrfResponse;
  prompt: PromptName;
  language: Language;
  log: Logger;
}

interface WarningAnnouncement {
  /** A leg (the caller, who hears it) and B leg (whose SDP the caller's media returns to) */
  uas: Dialog;
  uac: Dialog;
  language: Language;
  log: Logger;
  /** aborted when the call ends */
  signal: AbortSignal;
}

export interface Announcer {
  refusal(a: RefusalAnnouncement): Promise<AnnouncementResult>;
  warning(a: WarningAnnouncement): Promise<AnnouncementResult>;
}

/** Why a step stopped; `result` is what the announcement counts if nothing had reached the caller yet. */
class Stop extends Error {
  constructor(readonly result: AnnouncementResult, why: string) {
    super(why);
  }
}

/** Hang up an endpoint without waiting: BYE on its SIP dialog (FreeSWITCH then closes its event socket). */
function release(ep: FsEndpoint, log: Logger): void {
  ep.dialog?.destroy().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'media endpoint BYE failed'));
}

export function createAnnouncer(o: AnnouncerOptions): Announcer {
  const playBoundMs = o.promptMaxSeconds * 1000 + o.timeoutMs;

  /**
   * Race one step against its bound, the media server's loss and the caller's going away. A value that comes
   * after the race was lost goes to `late` (an endpoint created too late is hung up there).
   */
  function step<T>(what: string, p: Promise<T>, ms: number, lease: MediaLease, gone: Promise<string>, late?: (v: T) => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    return Promise.race([
      p.then((v) => {
        if (done) late?.(v);
        return v;
      }, (err: unknown) => {
        throw new Stop('failed', `${what}: ${(err as Error)?.message ?? String(err)}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Stop('skipped', `${what}: no answer within ${ms} ms`)), ms);
      }),
      lease.lost.then(() => {
        throw new Stop('skipped', `${what}: media server ${lease.name} lost`);
      }),
      gone.then((why) => {
        throw new Stop('canceled', `${what}: ${why}`);
      }),
    ]).finally(() => {
      done = true;
      clearTimeout(timer);
    });
  }

  /** The result to count: a failure once something reached the caller is 'failed', before it 'skipped'. */
  function outcome(err: unknown, started: boolean): AnnouncementResult {
    const r = err instanceof Stop ? err.result : 'failed';
    if (r === 'canceled') return r;
    return started ? 'failed' : r === 'failed' ? 'skipped' : r;
  }

  function count(prompt: PromptName, result: AnnouncementResult, log: Logger, detail?: string): AnnouncementResult {
    metrics.announcementsTotal.inc({ prompt, result });
    if (result === 'played') log.info({ prompt }, 'announcement played');
    else log.info({ prompt, result, why: detail }, 'announcement not played');
    return result;
  }

  return {
    async refusal(a) {
      const lease = o.pool.pick();
      if (!lease) return count(a.prompt, 'skipped', a.log, 'no media server up');
      if (!a.req.body) return count(a.prompt, 'skipped', a.log, 'INVITE without SDP offer');
      let onGone!: (why: string) => void;
      const gone = new Promise<string>((r) => (onGone = r));
      const onCancel = () => onGone('caller canceled');
      a.req.once('cancel', onCancel);
      let ep: FsEndpoint | null = null;
      let started = false;
      try {
        ep = await step('endpoint', lease.ms.createEndpoint({ remoteSdp: a.req.body }), o.timeoutMs, lease, gone, (late) => release(late, a.log));
        if (a.req.canceled || a.res.finalResponseSent) throw new Stop('canceled', 'caller canceled');
        a.res.send(183, 'Session Progress', { headers: { 'Content-Type': 'application/sdp' }, body: ep.local.sdp });
        started = true;
        await step('play', ep.play({ file: promptFile(o.promptsDir, a.prompt, a.language), timeoutSecs: o.promptMaxSeconds }), playBoundMs, lease, gone);
        return count(a.prompt, 'played', a.log);
      } catch (err) {
        return count(a.prompt, outcome(err, started), a.log, (err as Error).message);
      } finally {
        a.req.removeListener('cancel', onCancel);
        if (ep) release(ep, a.log);
      }
    },

    async warning(a) {
      const prompt: PromptName = 'low_credit';
      const lease = o.pool.pick();
      if (!lease) return count(prompt, 'skipped', a.log, 'no media server up');
      const callerSdp = a.uas.remote.sdp;
      const calleeSdp = a.uac.remote.sdp;
      const origin = a.uas.local.sdp ? originOf(a.uas.local.sdp) : null;
      if (!callerSdp || !calleeSdp || !origin) return count(prompt, 'skipped', a.log, 'no SDP on a leg');
      const gone = new Promise<string>((r) => {
        if (a.signal.aborted) r('call ended');
        else a.signal.addEventListener('abort', () => r('call ended'), { once: true });
      });
      let ep: FsEndpoint | null = null;
      let redirected = false;
      let started = false;
      let result: AnnouncementResult;
      try {
        ep = await step('endpoint', lease.ms.createEndpoint({ remoteSdp: callerSdp }), o.timeoutMs, lease, gone, (late) => release(late, a.log));
        // from here on the caller's media may point at the media server: it is always pointed back
        redirected = true;
        const answer = await step('re-INVITE to media server', a.uas.modify(withOrigin(ep.local.sdp, origin, origin.version + 1n)), o.timeoutMs, lease, gone);
        started = true;
        if (audioTarget(answer) !== audioTarget(callerSdp)) await step('media server update', ep.modify(answer), o.timeoutMs, lease, gone);
        await step('play', ep.play({ file: promptFile(o.promptsDir, prompt, a.language), timeoutSecs: o.promptMaxSeconds }), playBoundMs, lease, gone);
        result = count(prompt, 'played', a.log);
      } catch (err) {
        result = count(prompt, outcome(err, started), a.log, (err as Error).message);
      }
      if (redirected && !a.signal.aborted) await pointBack(a, calleeSdp, origin.version + 2n, callerSdp);
      if (ep) release(ep, a.log);
      return result;
    },
  };

  /** The caller's media back to the callee (srf queues it behind a re-INVITE still in flight). */
  async function pointBack(a: WarningAnnouncement, calleeSdp: string, version: bigint, callerSdp: string): Promise<void> {
    const origin = originOf(a.uas.local.sdp ?? '');
    if (!origin) return;
    // the callee may have sent a new SDP meanwhile (relayed re-INVITE): use the latest
    const sdp = withOrigin(a.uac.remote.sdp ?? calleeSdp, origin, version > origin.version ? version : origin.version + 1n);
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        a.uas.modify(sdp),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${o.timeoutMs * 5} ms`)), o.timeoutMs * 5))),
      ]);
      // the caller answered from another address: the callee must send there now
      if (audioTarget(answer) !== audioTarget(callerSdp)) await a.uac.modify(answer);
    } catch (err) {
      if (!a.signal.aborted) a.log.warn({ err: (err as Error).message }, 'caller media not pointed back to the callee after the warning');
    } finally {
      clearTimeout(timer);
    }
  }
}
