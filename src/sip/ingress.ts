/**
 * The door of the SIP app: a request from the network judged before any state exists for it. An INVITE must come
 * from a configured call-center trunk (ingress) and carry identity fields within the input limits (a CDR must be able
 * to hold them); an OPTIONS gets 200 from a trunk (it keeps us in its pool by it), 403 from anyone else.
 *
 * Invariants:
 * - unknown sources cost nothing: no session, no CDR, no lookup beyond the trunk's, one reply and one counted metric
 *   per request; their log is summarised per source address (StrangerLog);
 * - an INVITE passes the door only with ctx.trunk set and identity fields within the input limits.
 */
import { LogSummary } from '../observability/log-summary.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import type { CallContext } from './call-context.js';
import * as decide from './decisions.js';
import type { Directory } from './directory.js';
import { rejectCall, reply, type RejectDeps } from './reject.js';
import type { SrfRequest, SrfResponse } from './srf-types.js';

/** INVITEs from non-trunk addresses: first per address logged at once, the rest as one summary line per address per interval. */
const STRANGER_LOG_INTERVAL_MS = 60_000;

export interface DoorDeps extends RejectDeps {
  readonly directory: Pick<Directory, 'trunkForAddress'>;
  readonly strangers: StrangerLog;
}

/**
 * Trunk, then input limits. True when the INVITE may become a call (ctx.trunk set); otherwise it was answered and
 * counted here. `from`: the INVITE's parsed From (the caller parsed it already for the call id).
 */
export async function passDoor(ctx: CallContext, aCallId: string, from: { params: Record<string, string> }, deps: DoorDeps): Promise<boolean> {
  const { req } = ctx;
  try {
    ctx.trunk = await deps.directory.trunkForAddress(req.source_address);
  } catch (err) {
    ctx.log.error({ err }, 'trunk directory unavailable');
    await rejectCall(ctx, decide.storeDown('directory unavailable'), deps);
    return false;
  }
  const bad = decide.checkIngress(ctx.trunk, req.source_address);
  if (bad) {
    // unauthenticated traffic (scanners) is counted per request, not recorded as a tenant's call attempt; its log
    // is summarised per source address (anyone can send these as fast as they like)
    deps.strangers.refused(req, ctx.log);
    reply(ctx, bad, deps.agent);
    metrics.callsTotal.inc({ result: 'rejected', reason: bad.reason, sip_class: `${Math.floor(bad.status / 100)}xx` });
    return false;
  }
  // before a session exists: its CDR would carry these values (the embedded edge checked them already)
  const badInput = decide.checkInput({
    callId: aCallId, requestUri: req.uri, from: req.get('From'), to: req.get('To'), pai: req.get('P-Asserted-Identity'),
    fromTag: from.params['tag'], toTag: req.getParsedHeader('To').params['tag'],
  });
  if (badInput) {
    await rejectCall(ctx, badInput, deps);
    return false;
  }
  return true;
}

/** OPTIONS from the call-center trunks: 200 (they use it to keep us in their pool); anyone else: 403. */
export function answerOptions(req: SrfRequest, res: SrfResponse, deps: Pick<DoorDeps, 'directory' | 'agent'>): void {
  deps.directory.trunkForAddress(req.source_address).then(
    (t) => res.send(t ? 200 : 403, { headers: { 'User-Agent': deps.agent } }),
    () => res.send(503),
  );
}

/** The log of INVITEs from unknown addresses, summarised per address per minute (log-summary.ts). */
export class StrangerLog {
  private readonly summary = new LogSummary(1000);

  constructor(private readonly log: Logger) {}

  /** An INVITE from a non-trunk address refused: logged on its own only as the first from its address this interval. */
  refused(req: SrfRequest, callLog: Logger): void {
    if (this.summary.note(req.source_address)) callLog.warn({ source: `${req.source_address}:${req.source_port}` }, 'INVITE from unknown address refused (further ones from it this minute: one summary line)');
  }

  /** One line per address that sent more than its first this interval. */
  flush(): void {
    const d = this.summary.drain();
    for (const l of d.lines) this.log.warn({ source: l.key, count: l.suppressed, intervalSeconds: STRANGER_LOG_INTERVAL_MS / 1000 }, 'INVITEs from unknown address refused (summary)');
    if (d.overflow > 0) this.log.warn({ count: d.overflow, intervalSeconds: STRANGER_LOG_INTERVAL_MS / 1000 }, 'INVITEs from further unknown addresses refused (summary; more than 1000 addresses, not listed)');
  }

  /** The interval timer (unref'd) that flushes the summary; clear it on close. */
  start(): NodeJS.Timeout {
    return setInterval(() => this.flush(), STRANGER_LOG_INTERVAL_MS).unref();
  }
}
