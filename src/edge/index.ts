/**
 * Embedded drachtio-compatible SIP edge: SIP over UDP/TCP on one side, the drachtio wire protocol for
 * unmodified drachtio-srf apps on the other. Used when no external drachtio-server is configured.
 */
import type { Logger } from 'pino';
import { EdgeCore } from './core.js';
import { Transports, type Proto } from './transport.js';
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
  /** Live server transactions beyond which new requests get a stateless 503 (default 50 000). */
  maxServerTransactions?: number;
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
    onMessage: (m) => core!.onMessage(m),
    onParseError: (err, from) => core!.onParseError(err, from),
  });
  core = new EdgeCore(opts.sipHost, transports, opts.timers ?? DEFAULT_TIMERS, log, opts.maxServerTransactions);
  const wire = new WireServer(opts.secret, log, core);
  core.wire = wire;
  await transports.listen(opts.sipPort, opts.transports);
  try {
    await wire.listen(opts.controlHost, opts.controlPort);
  } catch (err) {
    await transports.close();
    throw err;
  }
  log.info({ sip: core.hostports(), control: `${opts.controlHost}:${wire.port}` }, 'sip edge listening');
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
