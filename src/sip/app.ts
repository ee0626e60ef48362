/**
 * The SIP call-control app: a B2BUA between the call-center trunk (A leg) and the carrier gateways (B leg). This
 * module only composes: it builds the deps the parts share (once per app), keeps the book of live calls
 * (call-book.ts), and runs each INVITE through
 *   the door (ingress.ts: trunk, input limits) → STAGES (stages.ts, in the order listed below) → route (routing.ts).
 * Lost servers: lost-server.ts; gateway OPTIONS pings: gateway-pings.ts.
 *
 * Invariants:
 * - every call that got past the door is a CallSession in the book whose one end path writes the CDR through the
 *   charging engine; an INVITE whose handling throws still ends its session (500, or a system end once answered);
 * - a stage that throws refuses the call with 503 store_down, and no stage runs after a refusal, a CANCEL or the
 *   loss of the call's server;
 * - calls come from every drachtio server of `servers` (servers.ts); a call's B leg goes through the server its A leg
 *   came from, and one book spans them all.
 */
import type { ChargingRedis } from '../charging/redis.js';
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ChargingEngine } from '../charging/types.js';
import type { ControlMessage } from '../charging/tenant-sync.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import type { Media } from '../media/index.js';
import { CallBook } from './call-book.js';
import { CALLER_CANCEL, callIdFor, newCallContext, type CallContext } from './call-context.js';
import { CallSession } from './call-session.js';
import { subscribeCuts } from './control.js';
import * as decide from './decisions.js';
import type { Rejection } from './decisions.js';
import { createDirectory, type Directory, type Gateway } from './directory.js';
import { startGatewayPings, type PingDeps } from './gateway-pings.js';
import { GatewayHealth, type GatewayChange } from './gateways.js';
import { rejectionHeaders } from './headers.js';
import { answerOptions, passDoor, StrangerLog, type DoorDeps } from './ingress.js';
import { createLimits, type Limits } from './limits.js';
import { LostServers, lostUnanswered } from './lost-server.js';
import { userPart } from './normalize.js';
import { rejectCall } from './reject.js';
import { route, type RouteDeps } from './routing.js';
import { singleServer, type SipServer, type SipServers } from './servers.js';
import type { SrfRequest, SrfResponse, TypedSrf } from './srf-types.js';
import { authorize, checkDestinationAndTime, checkDraining, checkLimits, identifyCaller, type Stage, type StageDeps } from './stages.js';

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
  /** Operator control channel (subscribeTenantControl bound to the charging Redis). */
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

/**
 * The stages of every INVITE past the door, in this order (docs/sip.md "Per INVITE"). Draining is checked once the
 * tenant is known, so the refusal's CDR names it.
 */
const STAGES: readonly Stage[] = [identifyCaller, checkDraining, checkDestinationAndTime, checkLimits, authorize];

/** Everything the parts of one app share, built once (buildCore); each part's deps type is a view of it. */
interface AppCore extends StageDeps, RouteDeps, DoorDeps, PingDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly servers: SipServers;
  readonly directory: Directory;
  readonly limits: Limits;
  readonly charging: ChargingEngine;
  readonly health: GatewayHealth;
  readonly book: CallBook;
  readonly lost: LostServers;
  /** several servers: per-call logs name the one a call came through */
  readonly multiServer: boolean;
  draining: boolean;
}

export function createSipApp(deps: SipAppDeps): SipApp {
  const core = buildCore(deps);
  const timers: NodeJS.Timeout[] = [core.strangers.start()];
  core.servers.onChange((server, up) => (up ? core.lost.serverUp(server) : core.lost.serverDown(server)));
  registerHandlers(core);
  const pings = startGatewayPings(core);
  if (pings) timers.push(pings);
  timers.push(setInterval(() => renewLeases(core), 60_000).unref());
  const operator = subscribeOperator(core, deps);
  const { book } = core;

  return {
    activeCalls: () => book.size,
    answeredCalls: () => book.answeredCount(),
    cutTenant: (tenantId, reason) => cutTenant(core, tenantId, reason),
    async drain(deadlineMs) {
      core.draining = true;
      metrics.draining.set(1);
      core.servers.stopNewCalls(); // new calls go to the other instances on the same servers; ours go on
      await book.untilIdle(deadlineMs);
      await book.cutWhere(() => true, { side: 'system', reason: 'drain', byeText: 'service shutdown' }, 'drain');
      await book.settled(5000);
    },
    async close() {
      core.draining = true;
      operator.closing();
      for (const t of timers) clearInterval(t);
      core.strangers.flush();
      await book.cutWhere(() => true, { side: 'system', reason: 'shutdown', byeText: 'service shutdown' }, 'drain');
      await book.settled(5000);
      await operator.unsubscribe();
    },
  };
}

function buildCore(deps: SipAppDeps): AppCore {
  const { config } = deps;
  const servers = deps.servers ?? singleServer(deps.srf ?? missingSrf());
  const log = deps.logger.child({ component: 'sip' });
  const health = new GatewayHealth(2, deps.outageLog && ((c) => deps.outageLog!.record(c)));
  const book = new CallBook();
  return {
    config, log, servers, health, book,
    directory: deps.directory ?? createDirectory(deps.pool),
    limits: createLimits(deps.redis, { timeZone: config.service.timezone }),
    charging: deps.charging,
    media: deps.media,
    agent: config.sip.userAgent,
    isGatewayUp: (g: Gateway) => health.isUp(g),
    lost: new LostServers(book.contexts, log),
    strangers: new StrangerLog(log),
    multiServer: servers.list.length > 1,
    draining: false,
  };
}

// every server gets the same handlers; srf registers them again on each reconnection
function registerHandlers(core: AppCore): void {
  for (const server of core.servers.list) {
    server.srf.invite((req, res) => {
      onInvite(core, server, req, res).catch((err: unknown) => failInvite(core, req, res, err));
    });
    server.srf.options((req, res) => answerOptions(req, res, core));
  }
}

async function onInvite(core: AppCore, server: SipServer, req: SrfRequest, res: SrfResponse): Promise<void> {
  metrics.invitesTotal.inc();
  const aCallId = req.get('Call-ID') ?? '';
  const from = req.getParsedHeader('From');
  const callId = callIdFor(aCallId, from.params['tag'] ?? '');
  const ctx = newCallContext(server, req, res, core.log.child({ callId, aCallId, ...(core.multiServer ? { drachtio: server.name } : {}) }));
  req.on('cancel', () => {
    ctx.canceled = true;
    ctx.log.info('caller canceled');
  });
  if (core.book.has(callId)) return; // a retransmission the server let through: the first one is being handled
  if (!(await passDoor(ctx, aCallId, from, core))) return;
  const session = new CallSession(
    { charging: core.charging, limits: core.limits, logger: ctx.log, failurePolicy: ctx.trunk!.failurePolicy, onEnded: core.book.ended },
    {
      callId, aCallId, bCallId: null, tenantId: null, caller: userPart(from.uri), callee: userPart(req.uri),
      ingressTrunk: ctx.trunk!.name, gateway: null, inviteAt: ctx.now, ringAt: null, answerAt: null,
    },
  );
  ctx.session = session;
  core.book.add(ctx, session);
  if (await runStages(ctx, session, core)) await route(ctx, core);
}

/** STAGES in order. True when every one passed and the call is to be routed; otherwise it has ended. */
async function runStages(ctx: CallContext, session: CallSession, core: AppCore): Promise<boolean> {
  for (const stage of STAGES) {
    let r: Rejection | null;
    try {
      r = await stage(ctx, core);
    } catch (err) {
      // PostgreSQL (directory) or the charging engine failed: the caller may retry elsewhere
      ctx.log.error({ err, stage: stage.name }, 'stage failed');
      r = decide.storeDown(`${stage.name} unavailable`);
    }
    ctx.log.debug({ stage: stage.name, ok: r === null }, 'stage done');
    if (ctx.lost) {
      await lostUnanswered(ctx);
      return false;
    }
    if (r) {
      await rejectCall(ctx, r, core);
      return false;
    }
    if (ctx.canceled) {
      await session.endUnanswered(CALLER_CANCEL);
      return false;
    }
  }
  return true;
}

/** The INVITE's handling threw: 500 to the caller if it has no answer yet, and its session ends all the same. */
async function failInvite(core: AppCore, req: SrfRequest, res: SrfResponse, err: unknown): Promise<void> {
  core.log.error({ err, callId: req.get('Call-ID') }, 'INVITE handling failed');
  const session = core.book.byACallId(req.get('Call-ID'));
  if (!res.finalResponseSent) res.send(500, 'Server Internal Error', { headers: rejectionHeaders({ status: 500, phrase: '', reason: 'none', text: 'internal error' }, core.agent) });
  if (session && !session.answered) await session.endUnanswered({ result: 'failed', sipStatus: 500, disconnectReason: 'internal error' });
  else if (session) await session.end({ side: 'system', reason: 'internal error' });
}

function renewLeases(core: AppCore): void {
  core.limits.renew(core.book.leases()).catch((err: unknown) => core.log.warn({ err }, 'limit lease renewal failed'));
}

async function cutTenant(core: AppCore, tenantId: string, reason: string): Promise<number> {
  core.directory.invalidateTenant(tenantId);
  const n = await core.book.cutWhere((s) => s.tenantId === tenantId, { side: 'system', reason }, 'suspension');
  core.log.info({ tenantId, calls: n, reason }, 'cut live calls of tenant');
  return n;
}

/**
 * The operator channels: the SIP control channel (`calls cut`) and, when given, the tenant control channel
 * (suspension and termination cut the tenant's calls; any other change drops its cached directory entry).
 */
function subscribeOperator(core: AppCore, deps: SipAppDeps): { closing(): void; unsubscribe(): Promise<void> } {
  // a subscription still being made when close() runs (an app closed right after start, e.g. a start-up failure)
  // is ended as soon as it is made, so its connection is not left open
  let closing = false;
  const whenClosed = (u: () => Promise<void>): (() => Promise<void>) => {
    if (closing) void u().catch(() => undefined);
    return u;
  };
  let unsubscribeCuts: (() => Promise<void>) | null = null;
  let unsubscribeControl: (() => Promise<void>) | null = null;
  subscribeCuts(deps.redis, (m) => void cutTenant(core, m.tenantId, m.reason))
    .then((u) => (unsubscribeCuts = whenClosed(u)))
    .catch((err: unknown) => core.log.error({ err }, 'cannot subscribe to the SIP control channel'));
  if (deps.subscribeControl) {
    deps
      .subscribeControl((msg) => {
        if (msg.action === 'suspend' || msg.action === 'terminate') {
          void cutTenant(core, msg.tenantId, msg.action === 'suspend' ? 'operator suspension' : 'tenant terminated');
        } else core.directory.invalidateTenant(msg.tenantId);
      })
      .then((u) => (unsubscribeControl = whenClosed(u)))
      .catch((err: unknown) => core.log.error({ err }, 'cannot subscribe to tenant control channel'));
  }
  return {
    closing: () => void (closing = true),
    async unsubscribe() {
      if (unsubscribeControl) await unsubscribeControl();
      if (unsubscribeCuts) await unsubscribeCuts();
    },
  };
}

function missingSrf(): never {
  throw new TypeError('createSipApp needs servers (connectSipServers) or an srf');
}
