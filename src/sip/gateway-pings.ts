/**
 * OPTIONS pings to the carrier gateways, every sip.optionsPingSeconds (0 = off), through a connected SIP server in
 * turn: the up/down state routing orders gateways by (GatewayHealth: down after 2 failed pings, up on one answer),
 * softswitch_gateway_up and softswitch_gateway_options_rtt_seconds.
 *
 * Invariants:
 * - a ping round never outlasts the ping interval: an unanswered ping counts as failed (408) after at most 5 s;
 * - any SIP answer proves a gateway alive; only no answer (408) or no request sent (503) counts as a failure;
 * - with no server connected a round is skipped, and gateways keep the state they had.
 */
import type { Config } from '../config/config.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import type { Directory, Gateway } from './directory.js';
import type { GatewayHealth } from './gateways.js';
import type { SipServers } from './servers.js';
import type { TypedSrf } from './srf-types.js';

export interface PingDeps {
  readonly config: Pick<Config, 'sip'>;
  readonly servers: Pick<SipServers, 'pick'>;
  readonly directory: Pick<Directory, 'gateways'>;
  readonly health: Pick<GatewayHealth, 'record'>;
  /** our User-Agent */
  readonly agent: string;
  readonly log: Logger;
}

/** One OPTIONS to one gateway; records the result in the health book and the metrics. */
export async function pingGateway(gw: Gateway, srf: TypedSrf, deps: PingDeps): Promise<void> {
  const started = process.hrtime.bigint();
  // a ping round never outlasts the ping interval (a silent UDP peer would otherwise take Timer F, 32 s)
  const timeoutMs = Math.min(5000, deps.config.sip.optionsPingSeconds * 1000);
  const status = await new Promise<number>((resolve) => {
    const t = setTimeout(() => resolve(408), timeoutMs);
    srf
      .request(`sip:${gw.host}:${gw.port};transport=${gw.transport}`, { method: 'OPTIONS', headers: { From: '<sip:ping@localhost>', 'User-Agent': deps.agent } })
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
  const up = deps.health.record(gw.name, alive);
  metrics.gatewayUp.set({ gateway: gw.name }, up ? 1 : 0);
}

/** One round: every gateway at once, through the next connected server. */
export function pingRound(deps: PingDeps): void {
  const via = deps.servers.pick();
  if (!via) return;
  deps.directory.gateways().then((gws) => Promise.all(gws.map((gw) => pingGateway(gw, via.srf, deps)))).catch((err: unknown) => deps.log.warn({ err }, 'gateway ping round failed'));
}

/** Starts the rounds; the interval timer (unref'd) to clear on close, or null when pings are off. */
export function startGatewayPings(deps: PingDeps): NodeJS.Timeout | null {
  if (deps.config.sip.optionsPingSeconds <= 0) return null;
  return setInterval(() => pingRound(deps), deps.config.sip.optionsPingSeconds * 1000).unref();
}
