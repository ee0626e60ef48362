/**
 * The SIP call-control app: a B2BUA between the call-center trunk (A leg) and the carrier gateways (B leg).
 * Per INVITE, a chain of stages runs in order; each either passes or rejects with a Rejection (decisions.ts):
 *   ingress → caller ID / tenant → draining → destination → calling hours → daily spend cap → limits → authorize → route.
 * Every call that got past ingress is a CallSession whose one end path writes the CDR through the charging engine.
 * Calls come from every drachtio server of `servers` (src/sip/servers.ts); a call's B leg goes through the server its
 * A leg came from, and one book of live calls (drain, operator cuts, metrics) spans them all.
 */
import { createHash } from 'node:crypto';
import type { ChargingRedis } from '../charging/redis.js';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ChargingEngine } from '../charging/types.js';
import type { ControlMessage } from '../charging/tenant-sync.js';
import { LogSummary } from '../observability/log-summary.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import type { Media } from '../media/index.js';
import { CallSession, type EndCause } from './call-session.js';
import * as decide from './decisions.js';
import type { Rejection } from './decisions.js';
import { createDirectory, type Directory, type Gateway, type IngressTrunk, type TenantInfo } from './directory.js';
import { GatewayHealth, orderGateways, type GatewayChange } from './gateways.js';
import { aLegResponseHeaders, bLegHeaders, gatewayUri, rejectionHeaders } from './headers.js';
import { minSeOf } from './session-timer.js';
import { releaseDialogMessages } from './release.js';
import { createLimits, type Limits } from './limits.js';
import { subscribeCuts } from './control.js';
import { byeHeaders } from './headers.js';
import { ratingDigits, toE164, userPart } from './normalize.js';
import { singleServer, type SipServer, type SipServers } from './servers.js';
import type { Dialog, SipError, SipMessage, SrfRequest, SrfResponse, TypedSrf } from './srf-types.js';

/** INVITEs from non-trunk addresses: first per address logged at once, the rest as one summary line per address per interval. */
const STRANGER_LOG_INTERVAL_MS = 60_000;

export interface SipAppDeps {
  /** The drachtio servers to take calls from (connectSipServers), or one srf the caller connected and owns. */
  servers?: SipServers;
  srf?: TypedSrf;
  config: Config;
  logger: Logger;
  pool: Pool;
  redis: ChargingRedis;
  charging: ChargingEngine;
  instanceId: string;
  /** Operator control channel (contract 2: subscribeTenantControl bound to the charging Redis). */
  subscribeControl?: (handler: (msg: ControlMessage) => void) => Promise<() => Promise<void>>;
  directory?: Directory;
  /** Announcements (src/media): refusal prompts and the low-credit warning; absent = none. */
  media?: Media | null;
  /** Carrier outage log (src/outages/recorder.ts): gets each gateway up/down change; must never block. */
  outageLog?: { record(change: GatewayChange): void };
}

export interface SipApp {
  activeCalls(): number;
  /** Calls with both legs up. */
  answeredCalls(): number;
  /** Refuse new calls, let live ones go on until deadlineMs (epoch ms), then cut what is left. */
  drain(deadlineMs: number): Promise<void>;
  /** Cut every call now, stop timers and subscriptions. */
  close(): Promise<void>;
  /** Cut all live calls of a tenant (operator suspension); returns how many were cut. */
  cutTenant(tenantId: string, reason: string): Promise<number>;
}

/** Our id of a call: stable for the A leg's Call-ID + From tag (retransmissions and restarts map to the same id). */
export function callIdFor(aCallId: string, fromTag: string): string {
  return createHash('sha256').update(`${aCallId}\n${fromTag}`).digest('hex').slice(0, 32);
}

interface Ctx {
  /** the server the A leg came through: the B leg goes through it too */
  server: SipServer;
  /** why the call cannot go on: its server's connection was lost (see serverDown); null while it can */
  lost: string | null;
  /**
   * the B-leg attempt in progress stops waiting through this when the server is lost (markLost). Set only for the
   * attempt's duration: a never-settling promise the attempts subscribed to kept every attempt's closures (and the
   * INVITE messages they hold) alive for the call's whole life.
   */
  onLost: ((o: Outcome) => void) | null;
  /** A and B dialog ids once answered, to hang them up through the server after it reconnects */
  dialogIds: string[];
  req: SrfRequest;
  res: SrfResponse;
  log: Logger;
  now: number;
  canceled: boolean;
  trunk: IngressTrunk | null;
  tenant: TenantInfo | null;
  callerE164: string | null;
  calleeE164: string | null;
  session: CallSession | null;
}

type Outcome = { ok: true; uas: Dialog; uac: Dialog; answerAt: number; sessionExpires: number } | { ok: false; status: number; reason?: string; minSe?: number };

export function createSipApp(deps: SipAppDeps): SipApp {
  const { config, pool, charging } = deps;
  const servers = deps.servers ?? singleServer(deps.srf ?? missingSrf());
  const log = deps.logger.child({ component: 'sip' });
  const directory = deps.directory ?? createDirectory(pool);
  const limits: Limits = createLimits(deps.redis, { timeZone: config.service.timezone });
  const health = new GatewayHealth(2, deps.outageLog && ((c) => deps.outageLog!.record(c)));
  const sessions = new Map<string, CallSession>();
  const contexts = new Map<string, Ctx>(); // callId → its INVITE's context (server, lost flag)
  let draining = false;
  let idle: (() => void) | null = null;
  let unsubscribe: (() => Promise<void>) | null = null;
  const timers: NodeJS.Timeout[] = [];
  const agent = config.sip.userAgent;
  const strangers = new LogSummary(1000);
  const logStrangers = () => {
    const d = strangers.drain();
    for (const l of d.lines) log.warn({ source: l.key, count: l.suppressed, intervalSeconds: STRANGER_LOG_INTERVAL_MS / 1000 }, 'INVITEs from unknown address refused (summary)');
    if (d.overflow > 0) log.warn({ count: d.overflow, intervalSeconds: STRANGER_LOG_INTERVAL_MS / 1000 }, 'INVITEs from further unknown addresses refused (summary; more than 1000 addresses, not listed)');
  };
  timers.push(setInterval(logStrangers, STRANGER_LOG_INTERVAL_MS).unref());

  function reply(ctx: Ctx, r: Rejection): void {
    if (!ctx.res.finalResponseSent && !ctx.canceled && !ctx.lost) ctx.res.send(r.status, r.phrase, { headers: rejectionHeaders(r, agent) });
  }

  /**
   * Once answered, the stages and the routing are over and nothing reads the A leg's INVITE (ctx.req/ctx.res) or
   * the dialogs' formative messages any more: drop them, so a live call does not keep both legs' INVITE and 200
   * (and createB2BUA's closures hanging off them) for its whole life. ctx stays in `contexts` for serverDown.
   */
  function releaseInvite(ctx: Ctx, uas: Dialog, uac: Dialog): void {
    releaseDialogMessages(uas);
    releaseDialogMessages(uac);
    const c = ctx as { req: SrfRequest | null; res: SrfResponse | null };
    c.req = null;
    c.res = null;
  }

  /** Reject: SIP answer, then the CDR through the session's one end path (a session exists past ingress). */
  async function rejectCall(ctx: Ctx, r: Rejection): Promise<void> {
    // the caller gave up while we were deciding: the server already answered 487, record it as canceled
    if (ctx.canceled && ctx.session) return ctx.session.endUnanswered({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });
    if (deps.media) {
      await deps.media.beforeRefusal(ctx.req, ctx.res, r, ctx.tenant, ctx.log);
      if (ctx.canceled && ctx.session) return ctx.session.endUnanswered({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });
    }
    reply(ctx, r);
    ctx.log.info({ status: r.status, reason: r.reason, text: r.text }, 'call rejected');
    if (ctx.session) await ctx.session.endUnanswered({ result: 'rejected', sipStatus: r.status, rejectReason: r.reason, disconnectReason: r.text });
    else metrics.callsTotal.inc({ result: 'rejected', reason: r.reason, sip_class: `${Math.floor(r.status / 100)}xx` });
  }

  // ---- stages: each returns a Rejection to stop, or null to go on -------------------------------------------

  async function identifyCaller(ctx: Ctx): Promise<Rejection | null> {
    const { req } = ctx;
    const fromUser = userPart(req.getParsedHeader('From').uri);
    const pai = req.get('P-Asserted-Identity');
    const raw = config.sip.callerIdSource === 'pai' && pai ? userPart(pai) : fromUser;
    ctx.callerE164 = toE164(raw);
    ctx.session!.facts.caller = ctx.callerE164 ?? raw;
    const owner = ctx.callerE164 ? await directory.numberOwner(ctx.callerE164) : null;
    const r = decide.checkCaller(ctx.callerE164, owner, ctx.now);
    if (owner?.tenant) {
      ctx.tenant = owner.tenant;
      ctx.session!.facts.tenantId = owner.tenant.id;
      ctx.log.setBindings({ tenant: owner.tenant.code }); // the per-call child itself: a child of it would be one more object per call
    }
    return r;
  }

  async function checkDestinationAndTime(ctx: Ctx): Promise<Rejection | null> {
    const t = ctx.tenant!;
    const raw = userPart(ctx.req.uri);
    ctx.calleeE164 = toE164(raw);
    ctx.session!.facts.callee = ctx.calleeE164 ?? raw;
    return decide.checkDestination(ctx.calleeE164, t) ?? decide.checkHours(t, ctx.now, config.service.timezone);
  }

  async function checkLimits(ctx: Ctx): Promise<Rejection | null> {
    const t = ctx.tenant!;
    try {
      if (t.dailySpendCapFen !== null) {
        const r = decide.checkSpendCap(t, await limits.spentToday(t.id, ctx.now));
        if (r) return r;
      }
      const a = await limits.admit(t.id, ctx.session!.callId, t.maxConcurrent, t.maxCps, ctx.now);
      if (a === 'ok') ctx.session!.markAdmitted();
      return decide.admissionRejection(a, t);
    } catch (err) {
      // limits live in the same Redis as balances: follow the trunk's failure policy
      ctx.log.error({ err }, 'limits store unavailable');
      return ctx.trunk!.failurePolicy === 'continue' ? null : decide.storeDown('limits store unavailable');
    }
  }

  async function authorize(ctx: Ctx): Promise<Rejection | null> {
    const s = ctx.session!;
    // the engine times itself into softswitch_authorize_duration_seconds
    const a = await charging.authorize({
      callId: s.callId, tenantId: ctx.tenant!.id, calledNumber: ratingDigits(ctx.calleeE164!), at: ctx.now, failurePolicy: ctx.trunk!.failurePolicy,
    });
    if (!a.ok) return decide.refusalRejection(a.reason, a.detail);
    s.markGranted();
    return null;
  }

  // ---- routing ----------------------------------------------------------------------------------------------

  /**
   * One B-leg attempt. A gateway that sends nothing at all (not even 100 Trying) within sip.gatewayTimeoutSeconds
   * is abandoned at once (408) so the next one can be tried; its INVITE is cancelled. Once the B leg is cancelled
   * (caller CANCEL, operator cut, drain) the attempt ends when its final response arrives, or after
   * sip.cancelTimeoutSeconds if none is ever delivered (RFC 3261 §9.1), so the session always ends and releases
   * its holds. An abandoned or cancelled gateway that still answers is refused (localSdpA throws), so srf tears
   * that late B leg down; should the attempt still settle with both legs after we stopped waiting, both are hung up.
   */
  async function tryGateway(ctx: Ctx, gw: Gateway, sessionExpires: number): Promise<Outcome> {
    const s = ctx.session!;
    const { req: aReq, res: aRes } = ctx; // ctx's are dropped once a call is answered (releaseInvite); a late attempt still has these
    let responded = false;
    let abandoned = false;
    let stoppedWaiting = false;
    let uacReq: SrfRequest | null = null;
    let answerAt = 0;
    let stopWaiting: (o: Outcome) => void = () => undefined;
    const givenUp = new Promise<Outcome>((resolve) => (stopWaiting = (o) => {
      stoppedWaiting = true;
      resolve(o);
    }));
    const silenceTimer = setTimeout(() => {
      if (responded) return;
      abandoned = true;
      try {
        uacReq?.cancel();
      } catch (err) {
        ctx.log.debug({ err }, 'cancel of silent gateway failed');
      }
      stopWaiting({ ok: false, status: 408, reason: 'gateway timeout' });
    }, config.sip.gatewayTimeoutSeconds * 1000);
    let cancelTimer: NodeJS.Timeout | null = null;
    const cancelled = (): void => {
      abandoned = true;
      cancelTimer ??= setTimeout(() => {
        ctx.log.warn({ gateway: gw.name, seconds: config.sip.cancelTimeoutSeconds }, 'no final response after CANCEL: B leg given up');
        stopWaiting({ ok: false, status: 487, reason: 'no final response after CANCEL' });
      }, config.sip.cancelTimeoutSeconds * 1000);
    };
    aReq.on('cancel', cancelled); // srf's createB2BUA relays the caller's CANCEL to the B leg itself
    // its server is gone: nothing more will come for this attempt
    if (ctx.lost) stopWaiting({ ok: false, status: 503, reason: ctx.lost });
    else ctx.onLost = stopWaiting;
    s.facts.gateway = gw.name;
    ctx.log.debug({ gateway: gw.name, uri: gatewayUri(ctx.calleeE164!, gw) }, 'trying gateway');
    const attempt = ctx.server.srf
      .createB2BUA(
        aReq, aRes, gatewayUri(ctx.calleeE164!, gw),
        {
          headers: bLegHeaders(aReq.headers, ctx.callerE164!, ctx.calleeE164!, gw, agent, sessionExpires),
          passFailure: false,
          responseHeaders: (bRes) => aLegResponseHeaders(aReq.headers, bRes),
          localSdpA: (sdpB: string) => {
            if (abandoned) throw new Error(`gateway ${gw.name} answered after it was abandoned or cancelled`);
            return sdpB;
          },
        },
        {
          cbRequest: (err, r) => {
            if (err) {
              ctx.log.warn({ err, gateway: gw.name }, 'B-leg INVITE not sent');
              return;
            }
            uacReq = r;
            // every response of the B leg, also a 183 with SDP (srf's createB2BUA skips cbProvisional for those)
            r.on('response', (res: SipMessage) => {
              const status = res.status ?? 0;
              if (status <= 100 || status >= 200) return;
              responded = true;
              if (status >= 180 && s.facts.ringAt === null) {
                s.facts.ringAt = Date.now();
                metrics.postDialDelay.observe((s.facts.ringAt - s.facts.inviteAt) / 1000);
              }
            });
            s.trying({
              cancel: (headers) => {
                r.cancel({ headers });
                cancelled();
              },
            });
            s.facts.bCallId = r.get('Call-ID') ?? null;
            // a CANCEL or cut that came while the INVITE was being sent: srf's own relay was not listening yet
            if (ctx.canceled || s.cutBeforeAnswer) {
              r.cancel();
              cancelled();
            } else if (abandoned) r.cancel(); // the silent-gateway timer gave up on it already
          },
          cbFinalizedUac: (uac) => {
            responded = true;
            answerAt = Date.now();
            s.facts.bCallId = uac.sip.callId;
            if (s.facts.ringAt === null) metrics.postDialDelay.observe((answerAt - s.facts.inviteAt) / 1000);
          },
        },
      )
      .then(
        ({ uas, uac }): Outcome => {
          if (stoppedWaiting) {
            ctx.log.warn({ gateway: gw.name }, 'B leg connected after the attempt was given up: both legs hung up');
            for (const d of [uac, uas]) d.destroy().catch(() => undefined);
          }
          return { ok: true, uas, uac, answerAt: answerAt || Date.now(), sessionExpires };
        },
        (e: unknown): Outcome => {
          const err = e as SipError;
          const minSe = err.status === 422 ? minSeOf(err.res?.get('Min-SE')) : null;
          return { ok: false, status: typeof err.status === 'number' ? err.status : 500, ...(err.reason ? { reason: err.reason } : {}), ...(minSe ? { minSe } : {}) };
        },
      );
    try {
      const out = await Promise.race([attempt, givenUp]);
      if (!out.ok) ctx.log.info({ gateway: gw.name, status: out.status, abandoned }, 'gateway attempt failed');
      return out;
    } finally {
      clearTimeout(silenceTimer);
      if (cancelTimer) clearTimeout(cancelTimer);
      aReq.removeListener('cancel', cancelled);
      if (ctx.onLost === stopWaiting) ctx.onLost = null;
      s.trying(null);
    }
  }

  async function route(ctx: Ctx): Promise<void> {
    const s = ctx.session!;
    const list = orderGateways(await directory.gateways(), (g) => health.isUp(g));
    if (list.length === 0) return rejectCall(ctx, { status: 503, phrase: 'Service Unavailable', reason: 'no_route', text: 'no carrier gateway configured' });
    let last: Outcome = { ok: false, status: 503 };
    for (const gw of list) {
      if (ctx.canceled || s.cutBeforeAnswer || ctx.lost) break;
      last = await tryGateway(ctx, gw, config.sip.sessionExpiresSeconds);
      // RFC 4028 §7.4: 422 Session Interval Too Small names the carrier's Min-SE; ask again once with it
      if (!last.ok && last.status === 422 && last.minSe && last.minSe > config.sip.sessionExpiresSeconds && last.minSe <= 86_400 && !ctx.canceled && !s.cutBeforeAnswer && !ctx.lost) {
        ctx.log.info({ gateway: gw.name, minSe: last.minSe }, 'carrier asks for a longer session interval: trying again');
        last = await tryGateway(ctx, gw, last.minSe);
      }
      if (last.ok || ctx.canceled || s.cutBeforeAnswer || ctx.lost || !decide.shouldFailover(last.status)) break;
    }
    if (last.ok) {
      ctx.log.info({ gateway: s.facts.gateway }, 'call answered');
      ctx.dialogIds = [last.uas.id, last.uac.id];
      releaseInvite(ctx, last.uas, last.uac);
      await s.connected(last.uas, last.uac, last.answerAt, deps.media?.lowCredit(ctx.tenant!, ctx.log), last.sessionExpires);
      // answered just as its server was lost: it cannot be heard from any more, end it like the others
      if (ctx.lost) await lostAnswered(ctx);
      return;
    }
    if (ctx.lost) return lostUnanswered(ctx);
    if (ctx.canceled) return s.endUnanswered({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });
    if (s.cutBeforeAnswer) {
      const cut = s.cutBeforeAnswer;
      reply(ctx, { status: 503, phrase: 'Service Unavailable', reason: 'tenant', text: cut.reason });
      return s.endUnanswered({ result: 'rejected', sipStatus: 503, rejectReason: 'tenant', disconnectReason: cut.reason });
    }
    if (!ctx.res.finalResponseSent) ctx.res.send(last.status, last.reason);
    return s.endUnanswered({ result: 'failed', sipStatus: last.status, disconnectReason: last.reason ?? `gateway ${last.status}` });
  }

  // ---- the INVITE handler -------------------------------------------------------------------------------------

  async function onInvite(server: SipServer, req: SrfRequest, res: SrfResponse): Promise<void> {
    metrics.invitesTotal.inc();
    const aCallId = req.get('Call-ID') ?? '';
    const from = req.getParsedHeader('From');
    const callId = callIdFor(aCallId, from.params['tag'] ?? '');
    const ctx: Ctx = {
      server, lost: null, onLost: null, dialogIds: [],
      req, res, log: log.child({ callId, aCallId, ...(servers.list.length > 1 ? { drachtio: server.name } : {}) }), now: Date.now(), canceled: false,
      trunk: null, tenant: null, callerE164: null, calleeE164: null, session: null,
    };
    req.on('cancel', () => {
      ctx.canceled = true;
      ctx.log.info('caller canceled');
    });
    if (sessions.has(callId)) return; // a retransmission the server let through: the first one is being handled

    try {
      ctx.trunk = await directory.trunkForAddress(req.source_address);
    } catch (err) {
      ctx.log.error({ err }, 'trunk directory unavailable');
      return rejectCall(ctx, decide.storeDown('directory unavailable'));
    }
    const bad = decide.checkIngress(ctx.trunk, req.source_address);
    if (bad) {
      // unauthenticated traffic (scanners) is counted per request, not recorded as a tenant's call attempt; its log
      // is summarised per source address (anyone can send these as fast as they like)
      if (strangers.note(req.source_address)) ctx.log.warn({ source: `${req.source_address}:${req.source_port}` }, 'INVITE from unknown address refused (further ones from it this minute: one summary line)');
      reply(ctx, bad);
      metrics.callsTotal.inc({ result: 'rejected', reason: bad.reason, sip_class: `${Math.floor(bad.status / 100)}xx` });
      return;
    }
    // before a session exists: its CDR would carry these values (the embedded edge checked them already)
    const badInput = decide.checkInput({
      callId: aCallId, requestUri: req.uri, from: req.get('From'), to: req.get('To'), pai: req.get('P-Asserted-Identity'),
      fromTag: from.params['tag'], toTag: req.getParsedHeader('To').params['tag'],
    });
    if (badInput) return rejectCall(ctx, badInput);
    const session = new CallSession(
      { charging, limits, logger: ctx.log, failurePolicy: ctx.trunk!.failurePolicy, onEnded: (x) => ended(x) },
      {
        callId, aCallId, bCallId: null, tenantId: null, caller: userPart(from.uri), callee: userPart(req.uri),
        ingressTrunk: ctx.trunk!.name, gateway: null, inviteAt: ctx.now, ringAt: null, answerAt: null,
      },
    );
    ctx.session = session;
    sessions.set(callId, session);
    contexts.set(callId, ctx);

    // draining is checked once the tenant is known, so the refusal's CDR names it
    const checkDraining = async (): Promise<Rejection | null> => (draining ? decide.draining() : null);
    for (const stage of [identifyCaller, checkDraining, checkDestinationAndTime, checkLimits, authorize]) {
      let r: Rejection | null;
      try {
        r = await stage(ctx);
      } catch (err) {
        // PostgreSQL (directory) or the charging engine failed: the caller may retry elsewhere
        ctx.log.error({ err, stage: stage.name }, 'stage failed');
        r = decide.storeDown(`${stage.name} unavailable`);
      }
      ctx.log.debug({ stage: stage.name, ok: r === null }, 'stage done');
      if (ctx.lost) return lostUnanswered(ctx);
      if (r) return rejectCall(ctx, r);
      if (ctx.canceled) return session.endUnanswered({ result: 'canceled', sipStatus: 487, disconnectReason: 'caller CANCEL' });
    }
    await route(ctx);
  }

  function markLost(ctx: Ctx, why: string): void {
    ctx.lost ??= why;
    ctx.onLost?.({ ok: false, status: 503, reason: why });
  }

  function ended(s: CallSession): void {
    sessions.delete(s.callId);
    contexts.delete(s.callId);
    if (sessions.size === 0 && idle) idle();
  }

  // ---- several drachtio servers -------------------------------------------------------------------------------

  /** Dialogs of calls ended while their server was lost, per server: hung up when it is back (serverUp). */
  const orphans = new Map<SipServer, string[]>();

  /** A lost server's answered calls: billed up to now; their dialogs are hung up once the server is back. */
  async function lostAnswered(ctx: Ctx): Promise<void> {
    orphans.set(ctx.server, [...(orphans.get(ctx.server) ?? []), ...ctx.dialogIds]);
    await ctx.session!.end({ side: 'system', reason: ctx.lost!, byeText: 'service unavailable' });
  }

  /** A lost server's call not answered yet: no reply can reach the caller through it any more. */
  function lostUnanswered(ctx: Ctx): Promise<void> {
    return ctx.session!.endUnanswered({ result: 'failed', sipStatus: 503, disconnectReason: ctx.lost! });
  }

  /**
   * The connection to a server is gone. drachtio-server ties a dialog to the app connection that made it, so the
   * calls that came through it can no longer hear either side hang up (a reconnection is a new connection), and the
   * embedded edge drops them. So they end now, billed up to this instant; unanswered ones fail with 503. Their
   * dialogs, should the server still hold them, get a BYE through the new connection once it is back
   * (drachtio-server finds a dialog by id whatever connection asks).
   */
  function serverDown(server: SipServer): void {
    const why = `drachtio server ${server.name} lost`;
    const victims = [...contexts.values()].filter((c) => c.server === server && c.session && !c.session.ended && !c.lost);
    if (victims.length > 0) log.warn({ drachtio: server.name, calls: victims.length }, 'drachtio server lost: ending its calls');
    for (const c of victims) {
      metrics.drachtioLostCalls.inc({ server: server.name });
      markLost(c, why);
      if (c.session!.answered) void lostAnswered(c);
    }
  }

  function serverUp(server: SipServer): void {
    const ids = orphans.get(server) ?? [];
    orphans.delete(server);
    for (const stackDialogId of ids) {
      server.srf.request('sip:in-dialog', { method: 'BYE', stackDialogId, headers: byeHeaders('service unavailable') }).then(
        () => log.info({ drachtio: server.name, dialog: stackDialogId }, 'BYE sent on a dialog of a call ended while its server was lost'),
        (err: unknown) => log.debug({ err, dialog: stackDialogId }, 'dialog of a lost call is gone'),
      );
    }
  }
  servers.onChange((server, up) => (up ? serverUp(server) : serverDown(server)));

  // every server gets the same handlers; srf registers them again on each reconnection
  for (const server of servers.list) {
    server.srf.invite((req, res) => {
      onInvite(server, req, res).catch(async (err: unknown) => {
        log.error({ err, callId: req.get('Call-ID') }, 'INVITE handling failed');
        const session = [...sessions.values()].find((x) => x.facts.aCallId === req.get('Call-ID'));
        if (!res.finalResponseSent) res.send(500, 'Server Internal Error', { headers: rejectionHeaders({ status: 500, phrase: '', reason: 'none', text: 'internal error' }, agent) });
        if (session && !session.answered) await session.endUnanswered({ result: 'failed', sipStatus: 500, disconnectReason: 'internal error' });
        else if (session) await session.end({ side: 'system', reason: 'internal error' });
      });
    });

    // OPTIONS from the call-center trunks: 200 (they use it to keep us in their pool); anyone else: 403.
    server.srf.options((req, res) => {
      directory.trunkForAddress(req.source_address).then(
        (t) => res.send(t ? 200 : 403, { headers: { 'User-Agent': agent } }),
        () => res.send(503),
      );
    });
  }

  // ---- gateway OPTIONS pings, lease renewal, operator control ---------------------------------------------------

  async function pingGateway(gw: Gateway, srf: TypedSrf): Promise<void> {
    const started = process.hrtime.bigint();
    // a ping round never outlasts the ping interval (a silent UDP peer would otherwise take Timer F, 32 s)
    const timeoutMs = Math.min(5000, config.sip.optionsPingSeconds * 1000);
    const status = await new Promise<number>((resolve) => {
      const t = setTimeout(() => resolve(408), timeoutMs);
      srf
        .request(`sip:${gw.host}:${gw.port};transport=${gw.transport}`, { method: 'OPTIONS', headers: { From: '<sip:ping@localhost>', 'User-Agent': agent } })
        .then((r) => r.on('response', (res: { status: number }) => {
          clearTimeout(t);
          resolve(res.status);
        }))
        .catch(() => {
          clearTimeout(t);
          resolve(503);
        });
    });
    const alive = status !== 408 && status !== 503;
    if (alive) metrics.gatewayOptionsRtt.observe({ gateway: gw.name }, Number(process.hrtime.bigint() - started) / 1e9);
    const up = health.record(gw.name, alive);
    metrics.gatewayUp.set({ gateway: gw.name }, up ? 1 : 0);
  }

  if (config.sip.optionsPingSeconds > 0) {
    const ping = () => {
      // through a connected server, in turn; with none connected the round is skipped (gateways keep their state)
      const via = servers.pick();
      if (!via) return;
      directory.gateways().then((gws) => Promise.all(gws.map((gw) => pingGateway(gw, via.srf)))).catch((err: unknown) => log.warn({ err }, 'gateway ping round failed'));
    };
    timers.push(setInterval(ping, config.sip.optionsPingSeconds * 1000).unref());
  }
  timers.push(
    setInterval(() => {
      const live = [...sessions.values()].filter((s) => s.tenantId !== null).map((s) => ({ tenantId: s.tenantId!, callId: s.callId }));
      limits.renew(live).catch((err: unknown) => log.warn({ err }, 'limit lease renewal failed'));
    }, 60_000).unref(),
  );

  async function cutWhere(pred: (s: CallSession) => boolean, cause: EndCause, metricCause: string): Promise<number> {
    const victims = [...sessions.values()].filter((s) => !s.ended && pred(s));
    for (const _ of victims) metrics.operatorCutsTotal.inc({ cause: metricCause });
    await Promise.all(victims.map((s) => s.cut(cause)));
    return victims.length;
  }

  async function cutTenant(tenantId: string, reason: string): Promise<number> {
    directory.invalidateTenant(tenantId);
    const n = await cutWhere((s) => s.tenantId === tenantId, { side: 'system', reason }, 'suspension');
    log.info({ tenantId, calls: n, reason }, 'cut live calls of tenant');
    return n;
  }

  // a subscription still being made when close() runs (an app closed right after start, e.g. a start-up failure)
  // is ended as soon as it is made, so its connection is not left open
  let closing = false;
  const whenClosed = (u: () => Promise<void>): (() => Promise<void>) => {
    if (closing) void u().catch(() => undefined);
    return u;
  };
  let unsubscribeCuts: (() => Promise<void>) | null = null;
  subscribeCuts(deps.redis, (m) => void cutTenant(m.tenantId, m.reason))
    .then((u) => (unsubscribeCuts = whenClosed(u)))
    .catch((err: unknown) => log.error({ err }, 'cannot subscribe to the SIP control channel'));

  if (deps.subscribeControl) {
    deps
      .subscribeControl((msg) => {
        if (msg.action === 'suspend' || msg.action === 'terminate') {
          void cutTenant(msg.tenantId, msg.action === 'suspend' ? 'operator suspension' : 'tenant terminated');
        } else directory.invalidateTenant(msg.tenantId);
      })
      .then((u) => (unsubscribe = whenClosed(u)))
      .catch((err: unknown) => log.error({ err }, 'cannot subscribe to tenant control channel'));
  }

  /** Wait until every session has settled (calls cut before answer finish when their B leg's CANCEL completes). */
  async function settled(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (sessions.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  return {
    activeCalls: () => sessions.size,
    answeredCalls: () => [...sessions.values()].filter((x) => x.answered && !x.ended).length,
    cutTenant,
    async drain(deadlineMs) {
      draining = true;
      metrics.draining.set(1);
      servers.stopNewCalls(); // new calls go to the other instances on the same servers; ours go on
      if (sessions.size > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()));
          idle = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      idle = null;
      await cutWhere(() => true, { side: 'system', reason: 'drain', byeText: 'service shutdown' }, 'drain');
      await settled(5000);
    },
    async close() {
      draining = true;
      closing = true;
      for (const t of timers) clearInterval(t);
      logStrangers();
      await cutWhere(() => true, { side: 'system', reason: 'shutdown', byeText: 'service shutdown' }, 'drain');
      await settled(5000);
      if (unsubscribe) await unsubscribe();
      if (unsubscribeCuts) await unsubscribeCuts();
    },
  };
}

function missingSrf(): never {
  throw new TypeError('createSipApp needs servers (connectSipServers) or an srf');
}
