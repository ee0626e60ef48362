/**
 * The drachtio servers one app instance takes calls from. DRACHTIO_SERVERS lists several; DRACHTIO_HOST/PORT is a
 * list of one; with neither, the embedded edge is the one server. drachtio-srf holds one server connection per Srf
 * instance, so each server gets its own Srf (openSrfLink): the SIP app registers its handlers on every one, sends
 * a call's B leg through the server its A leg came from, and keeps one book of live calls across all of them.
 *
 * Start-up waits until every server is connected, or until timeoutMs with at least one connected (the others keep
 * reconnecting in the background); none connected, or a server refusing the secret, fails the start.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import { openSrfLink, parseHostPort, SrfConnectError, targetName, type DrachtioTarget, type LinkOptions, type SrfLink } from './connect.js';
import type { TypedSrf } from './srf-types.js';

export interface SipServer {
  /** host:port of its control port, as configured */
  readonly name: string;
  readonly srf: TypedSrf;
  readonly up: boolean;
}

export interface SipServers {
  readonly list: readonly SipServer[];
  /** A connected server for requests that belong to no call (gateway OPTIONS pings), in turn; null when none is. */
  pick(): SipServer | null;
  /** Called when a server's connection is authenticated (up) or lost (down). */
  onChange(fn: (server: SipServer, up: boolean) => void): void;
  /** name → up, for /readyz */
  status(): Record<string, boolean>;
  /**
   * Draining: ask every server to stop sending us new INVITEs (drachtio `remove_route`), so it gives them to the
   * other app instances connected to it, or answers 503 itself when there is none. In-dialog requests of our live
   * calls keep coming.
   */
  stopNewCalls(): void;
  close(): void;
}

/** The external servers the config names (empty = start the embedded edge). */
export function drachtioTargets(config: Pick<Config, 'drachtio'>): DrachtioTarget[] {
  const { servers, host, port, secret } = config.drachtio;
  if (servers.length > 0) return servers.map((hp) => ({ ...parseHostPort(hp), secret }));
  return host ? [{ host, port, secret }] : [];
}

function setOf(list: SipServer[], onClose: () => void, subscribe: (fn: (s: SipServer, up: boolean) => void) => void, stopNewCalls: () => void): SipServers {
  let next = 0;
  return {
    list,
    pick() {
      for (let i = 0; i < list.length; i++) {
        const s = list[(next + i) % list.length]!;
        if (s.up) {
          next = (next + i + 1) % list.length;
          return s;
        }
      }
      return null;
    },
    onChange: subscribe,
    status: () => Object.fromEntries(list.map((s) => [s.name, s.up])),
    stopNewCalls,
    close: onClose,
  };
}

export async function connectSipServers(targets: DrachtioTarget[], logger: Logger, timeoutMs = 10_000, link: LinkOptions = {}): Promise<SipServers> {
  if (targets.length === 0) throw new RangeError('no drachtio server to connect to');
  const links: SrfLink[] = targets.map((t) => openSrfLink(t, logger, link));
  const closeAll = () => links.forEach((l) => l.close());
  const listeners: ((s: SipServer, up: boolean) => void)[] = [];
  for (const l of links) l.onChange((up) => listeners.forEach((fn) => fn(l, up)));

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    // every server connected, or the time is up; a refused secret fails at once
    const r = await Promise.race([Promise.all(links.map((l) => l.firstConnect)), timedOut]);
    if (r === 'timeout') {
      const up = links.filter((l) => l.up);
      if (up.length === 0) throw new SrfConnectError(targets.map(targetName).join(','), `no authenticated connection within ${timeoutMs} ms`);
      logger.warn({ connected: up.map((l) => l.name), missing: links.filter((l) => !l.up).map((l) => l.name) }, 'starting without every drachtio server; the others keep being retried');
    }
  } catch (e) {
    closeAll();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const stopNewCalls = () => {
    for (const l of links) {
      try {
        l.srf.unregisterForMessages('invite');
      } catch (err) {
        logger.debug({ err, drachtio: l.name }, 'INVITE route already removed');
      }
    }
  };
  return setOf(links, closeAll, (fn) => void listeners.push(fn), stopNewCalls);
}

/**
 * One Srf the caller connected and owns (tests, the e2e harness): always counted up, never changes, and keeps its
 * INVITE route while draining (the app answers 503 `draining` itself).
 */
export function singleServer(srf: TypedSrf, name = 'drachtio'): SipServers {
  return setOf([{ name, srf, up: true }], () => undefined, () => undefined, () => undefined);
}
