/**
 * Connect drachtio-srf to a drachtio server (the external drachtio-server or the embedded edge: same code).
 * drachtio-srf keeps one server connection per Srf instance, so each server gets its own Srf ("link"); several
 * servers are several links (src/sip/servers.ts). A link reconnects by itself until closed, and declares the
 * connection dead when the server stops answering the wire protocol's pings (a host that vanished without a FIN
 * would otherwise look connected until TCP gives up, many minutes later).
 * srf.connect() returns the Srf, not a Promise (its types say otherwise), so we wait for 'connect' ourselves.
 */
import type { Socket } from 'node:net';
import Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.js';
import { metrics } from '../observability/metrics.js';
import { asTypedSrf, type TypedSrf } from './srf-types.js';

export interface DrachtioTarget {
  host: string;
  port: number;
  secret: string;
}

export class SrfConnectError extends Error {
  constructor(readonly target: string, cause: string) {
    super(`cannot connect to drachtio server at ${target}: ${cause}`);
    this.name = 'SrfConnectError';
  }
}

/** `host:port` as configured: the server's name in logs, /readyz and the `server` metric label. */
export function targetName(t: { host: string; port: number }): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** Parse one `host:port` of DRACHTIO_SERVERS (IPv6 in brackets). */
export function parseHostPort(hp: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hp) ?? /^([^:]+):(\d+)$/.exec(hp);
  if (!m) throw new RangeError(`not host:port: ${JSON.stringify(hp)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

export interface LinkOptions {
  /** wire-protocol ping interval (drachtio-srf allows 5000 to 300000 ms) */
  pingMs?: number;
  /** pings without a pong before the connection counts as dead and is dropped (then reconnected) */
  missedPings?: number;
  /** longest wait between reconnection attempts */
  retryMaxDelayMs?: number;
}

const LINK_DEFAULTS: Required<LinkOptions> = { pingMs: 5000, missedPings: 3, retryMaxDelayMs: 2000 };

/** One Srf that stays connected to one server until close(). */
export interface SrfLink {
  readonly name: string;
  readonly srf: TypedSrf;
  /** authenticated and not known to be lost */
  readonly up: boolean;
  /** Resolves at the first authenticated connection; rejects when the server refuses the secret. */
  readonly firstConnect: Promise<void>;
  /** Called on every change of `up` (connection authenticated / lost). */
  onChange(fn: (up: boolean) => void): void;
  close(): void;
}

/** drachtio-srf 5.0.29 internals the link needs (lib/connect.js app.client = DrachtioAgent, lib/wire-protocol.js). */
interface AgentInternals {
  wp?: {
    closing: boolean;
    reconnectVars?: { retryTimer: NodeJS.Timeout | null };
    socket?: Socket;
    on(event: 'ping', fn: (p: { msgId: string; socket: Socket }) => void): void;
  };
  mapServer?: Map<Socket, { pendingPingRequests: Set<string>; authenticated?: boolean }>;
}
function agentOf(srf: TypedSrf): AgentInternals | undefined {
  return (srf as unknown as { app?: { client?: AgentInternals } }).app?.client;
}

export function openSrfLink(target: DrachtioTarget, logger: Logger, options: LinkOptions = {}): SrfLink {
  const o = { ...LINK_DEFAULTS, ...options };
  const SrfCtor = Srf as unknown as new () => unknown;
  const srf = asTypedSrf(new SrfCtor());
  const name = targetName(target);
  const log = logger.child({ drachtio: name });
  const listeners: ((up: boolean) => void)[] = [];
  let up = false;
  let closed = false;
  const set = (v: boolean): void => {
    if (v === up || (closed && v)) return;
    up = v;
    metrics.drachtioConnected.set({ server: name }, v ? 1 : 0);
    if (!v) metrics.drachtioDisconnects.inc({ server: name });
    for (const fn of listeners) fn(v);
  };
  metrics.drachtioConnected.set({ server: name }, 0);

  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const firstConnect = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  firstConnect.catch(() => undefined); // a caller that never awaits it must not see an unhandled rejection

  srf.on('connect', (err: Error | null, hostport: string) => {
    if (err) {
      log.error({ err: err.message }, 'drachtio server refused us (secret?)');
      settle?.reject(new SrfConnectError(name, err.message));
      settle = null;
      return;
    }
    log.info({ hostport }, 'connected to drachtio server');
    set(true);
    settle?.resolve();
    settle = null;
  });
  srf.on('close', () => {
    if (up) log.warn('drachtio server connection lost; reconnecting');
    set(false);
  });
  srf.on('reconnecting', () => set(false));
  // without an 'error' listener srf's EventEmitter would throw on a lost connection
  srf.on('error', (err: Error) => log.debug({ err: err.message }, 'drachtio connection error'));
  (srf as unknown as { connect(o: object): unknown }).connect({
    host: target.host, port: target.port, secret: target.secret,
    enablePing: true, pingInterval: o.pingMs, reconnect: { retryMaxDelay: o.retryMaxDelayMs },
  });

  // A server that stopped answering pings is gone even if TCP has not noticed: drop the socket, srf reconnects.
  // srf sends the pings and clears a ping's id when its pong comes, but never records the ids it sent (nothing
  // listens to the wire protocol's 'ping' event in 5.0.29), so we record them.
  const agent = agentOf(srf);
  agent?.wp?.on('ping', ({ msgId, socket }) => agent.mapServer?.get(socket)?.pendingPingRequests.add(msgId));
  // The same for a connection whose authentication is never answered (srf would wait for it forever).
  const unanswered = new WeakMap<Socket, number>(); // socket → watchdog rounds without authentication
  const watchdog = setInterval(() => {
    if (agent?.wp?.closing) return clearInterval(watchdog); // srf.disconnect() by the owner
    for (const [socket, state] of agent?.mapServer ?? []) {
      const rounds = state.authenticated ? 0 : (unanswered.get(socket) ?? 0) + 1;
      unanswered.set(socket, rounds);
      if (state.pendingPingRequests.size >= o.missedPings || rounds > o.missedPings) {
        log.warn({ missedPings: state.pendingPingRequests.size, authenticated: state.authenticated === true }, 'drachtio server stopped answering: dropping the connection');
        state.pendingPingRequests.clear();
        socket.destroy();
      }
    }
  }, o.pingMs);
  watchdog.unref();

  return {
    name, srf, firstConnect,
    get up() {
      return up;
    },
    onChange: (fn) => void listeners.push(fn),
    close() {
      if (closed) return;
      closed = true;
      clearInterval(watchdog);
      settle?.reject(new SrfConnectError(name, 'closed before connecting'));
      settle = null;
      set(false);
      stopForGood(srf);
    },
  };
}

/** Resolves with the connected srf once authenticated; rejects after timeoutMs (srf keeps no half-open socket). */
export async function connectSrf(target: DrachtioTarget, logger: Logger, timeoutMs = 10_000): Promise<TypedSrf> {
  const link = openSrfLink(target, logger);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      link.firstConnect,
      new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new SrfConnectError(link.name, `no authenticated connection within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    link.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return link.srf;
}

/**
 * Stop a connection and its retries for good. srf.disconnect() throws when no socket was ever connected, and srf's
 * wire protocol keeps retrying a refused connection forever, so its retry loop is stopped directly
 * (drachtio-srf 5.0.29 lib/wire-protocol.js: `closing` ends _onConnectionGone's retries).
 */
function stopForGood(srf: TypedSrf): void {
  try {
    srf.disconnect();
  } catch {
    // never connected
  }
  const wp = agentOf(srf)?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
  if (wp.reconnectVars) wp.reconnectVars.retryTimer = null;
  wp.socket?.destroy();
}
