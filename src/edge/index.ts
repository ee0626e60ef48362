/**
 * Embedded drachtio-compatible SIP edge: SIP over UDP/TCP on one side, the drachtio wire protocol for
 * unmodified drachtio-srf apps on the other. Used when no external drachtio-server is configured.
 */
import type { Logger } from 'pino';
import { EdgeCore } from './core.js';
import { DEFAULT_TCP_LIMITS, Transports, type Proto, type TcpLimits } from './transport.js';
import type { SourceFilter } from './sources.js';
import { WireServer } from './wire/server.js';
import { DEFAULT_TIMERS, type SipTimers } from './timers.js';

export interface EdgeOptions {
  sipHost: string;
  sipPort: number;
  transports: Proto[];
  controlHost: string;
  controlPort: number;
  secret: string;
  logger: Logger;
  /** RFC 3261 T1/T2/T4; only tests change them. */
  timers?: SipTimers;
  /**
   * Who may send SIP at all: ingress trunks, carrier gateways, media servers (a SourceAllowList fed from
   * PostgreSQL by sources-pg.ts). Other sources get nothing, before any parsing or state. Responses and in-dialog
   * requests from where our own requests and dialogs went pass too. ANY_SOURCE only in tests and benchmarks.
   */
  sources: SourceFilter;
  /** What a source outside `sources` gets: nothing ('drop', default) or one stateless 403 ('reject'). */
  unknownSource?: 'drop' | 'reject';
  /** SIP messages per second one source address may send; beyond, they are dropped (0 = no limit, default). */
  sourceRateLimit?: number;
  /** Live server transactions beyond which new requests get a stateless 503 (default 50 000). */
  maxServerTransactions?: number;
  /** Dialogs beyond which new INVITEs get a stateless 503 (default 50 000). */
  maxDialogs?: number;
  /** TCP hardening; defaults in DEFAULT_TCP_LIMITS. */
  tcp?: Partial<TcpLimits>;
}

export interface EdgeStats { dialogs: number; serverTransactions: number; clientTransactions: number }

export interface Edge {
  close(): Promise<void>;
  sipPort: number;
  controlPort: number;
  /** Live state sizes, for health checks and leak tests. */
  stats(): EdgeStats;
}

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  if (opts.transports.length === 0) throw new Error('edge: at least one SIP transport (udp or tcp) is required');
  const log = opts.logger.child({ component: 'edge' });
  let core: EdgeCore | undefined;
  const transports = new Transports(opts.sipHost, log, {
    onMessage: (m) => core!.inbound.onMessage(m),
    onParseError: (err, from) => core!.inbound.onParseError(err, from),
    admit: (from) => core!.inbound.admit(from),
    onRejected: (msg, from) => core!.inbound.onRejected(msg, from),
    admitConnection: (from) => core!.inbound.admitConnection(from),
    onTcpLimit: (from, why) => core!.inbound.onTcpLimit(from, why),
  }, { ...DEFAULT_TCP_LIMITS, ...opts.tcp });
  core = new EdgeCore(opts.sipHost, transports, opts.timers ?? DEFAULT_TIMERS, log, {
    sources: opts.sources,
    ...(opts.unknownSource ? { unknownSource: opts.unknownSource } : {}),
    ...(opts.sourceRateLimit !== undefined ? { sourceRateLimit: opts.sourceRateLimit } : {}),
    ...(opts.maxServerTransactions !== undefined ? { maxServerTransactions: opts.maxServerTransactions } : {}),
    ...(opts.maxDialogs !== undefined ? { maxDialogs: opts.maxDialogs } : {}),
  });
  const wire = new WireServer(opts.secret, log, core.outbound);
  core.attach(wire);
  await transports.listen(opts.sipPort, opts.transports);
  try {
    await wire.listen(opts.controlHost, opts.controlPort);
  } catch (err) {
    await transports.close();
    throw err;
  }
  log.info({ sip: core.state.hostports(), control: `${opts.controlHost}:${wire.port}` }, 'sip edge listening');
  return {
    sipPort: transports.port,
    controlPort: wire.port,
    stats: () => core!.stats(),
    async close() {
      core!.close();
      await wire.close();
      await transports.close();
    },
  };
}
