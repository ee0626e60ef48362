/**
 * The typed surface of drachtio-fsmrf 4.1.2 we use, and a connect() that can be stopped for good.
 *
 * Why not Mrf#connect(): when FreeSWITCH refuses the TCP connection, drachtio-modesl's inbound Connection keeps
 * retrying on its own (every ~1 ms: its backoff starts from undefined before the first connect) and, if it ever
 * gets through, builds a second MediaServer behind the caller's back; a wrong password never calls back at all.
 * So we build the Connection and the MediaServer ourselves (what Mrf#connect does, lib/mrf.js), bound the whole
 * by a timeout, and stop the Connection's own retries on any failure or loss: reconnection is ours (pool.ts).
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type { Dialog, TypedSrf } from '../sip/srf-types.js';

const require = createRequire(import.meta.url);

/** An endpoint (one FreeSWITCH channel) as lib/endpoint.js has it. */
export interface FsEndpoint extends EventEmitter {
  readonly uuid: string;
  readonly local: { sdp: string; mediaIp?: string; mediaPort?: string };
  readonly dialog: Dialog | null;
  play(file: string | { file: string; timeoutSecs?: number }): Promise<{ playbackSeconds?: string; playbackMilliseconds?: string }>;
  modify(sdp: string): Promise<string>;
}

/** A connected FreeSWITCH (lib/mediaserver.js). Emits 'end' when the event socket is lost. */
export interface FsMediaServer extends EventEmitter {
  readonly sip: { ipv4: { udp: { address?: string } } };
  readonly maxSessions: number;
  readonly currentSessions: number;
  connected(): boolean;
  createEndpoint(opts: { remoteSdp?: string; codecs?: string[]; headers?: Record<string, string> }): Promise<FsEndpoint>;
  api(command: string): Promise<string>;
  disconnect(): void;
  readonly conn: EslConnection;
}

export interface FsTarget {
  host: string;
  port: number;
  secret: string;
}

/** The parts of drachtio-modesl's Connection we touch (lib/esl/Connection.js). */
interface EslConnection extends EventEmitter {
  closing?: boolean;
  socket: { destroy(): void } | null;
  reconnectVars: { retryTimer?: NodeJS.Timeout | null };
}

type EslConnectionCtor = new (host: string, port: number, password: string, onReady: () => void) => EslConnection;
type MediaServerCtor = new (
  conn: EslConnection, mrf: unknown, listenAddress: string, listenPort: number, advertisedAddress: string | undefined,
  advertisedPort: number | undefined, profile: string,
) => FsMediaServer;
type MrfCtor = new (srf: TypedSrf) => unknown;

const esl = require('drachtio-modesl') as { Connection: EslConnectionCtor };
const MediaServer = require('drachtio-fsmrf/lib/mediaserver') as MediaServerCtor;
const Mrf = require('drachtio-fsmrf') as MrfCtor;

/** End an event-socket connection and its built-in reconnection for good. */
function stopEsl(conn: EslConnection): void {
  conn.closing = true;
  if (conn.reconnectVars?.retryTimer) clearTimeout(conn.reconnectVars.retryTimer);
  if (conn.reconnectVars) conn.reconnectVars.retryTimer = null;
  conn.socket?.destroy();
}

/** Let go of a media server: its listener, its event socket and that socket's own retries. Endpoints in use keep
 * their own outbound connections. */
export function closeMediaServer(ms: FsMediaServer): void {
  const conn = ms.conn;
  try {
    ms.disconnect();
  } catch {
    // the socket is already gone
  }
  stopEsl(conn);
}

interface ConnectOptions {
  listenAddress: string;
  advertisedAddress?: string;
  timeoutMs: number;
  profile?: string;
}

/**
 * Connect to one FreeSWITCH: event socket login, the outbound event-socket listener (FreeSWITCH connects back
 * there for each endpoint), `sofia status` for the drachtio_mrf profile's SIP address. Rejects after timeoutMs
 * with nothing left running.
 */
export function connectMediaServer(srf: TypedSrf, target: FsTarget, opts: ConnectOptions): Promise<FsMediaServer> {
  return new Promise((resolve, reject) => {
    let ms: FsMediaServer | null = null;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ms) closeMediaServer(ms);
      else stopEsl(conn);
      reject(new Error(`media server ${target.host}:${target.port}: ${why}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${opts.timeoutMs} ms`), opts.timeoutMs);
    const conn = new esl.Connection(target.host, target.port, target.secret, () => {
      if (settled) return;
      ms = new MediaServer(conn, new Mrf(srf), opts.listenAddress, 0, opts.advertisedAddress || undefined, undefined, opts.profile ?? 'drachtio_mrf');
      ms.once('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ms!);
      });
      ms.once('error', (err: Error) => fail(err.message));
    });
    conn.on('error', (err: Error) => {
      if (!ms) fail(err.message); // after login the MediaServer owns error reporting
    });
    conn.on('esl::end', () => {
      if (!ms) fail('event socket closed before login');
    });
    conn.on('esl::event::auth::fail', () => fail('event socket password refused'));
    conn.on('esl::event::raw::text/rude-rejection', () => fail('event socket ACL refused this address'));
  });
}
