/**
 * The media servers of MEDIA_SERVER: one drachtio-fsmrf connection each, kept up by a reconnect loop, picked
 * round-robin among those up. A server that is down is simply not picked: announcements are skipped, never
 * waited for. Each server is a non-critical /readyz component (media_1, media_2, ...) and a
 * softswitch_media_server_up{server="host:port"} gauge.
 */
import { metrics } from '../observability/metrics.js';
import type { TypedSrf } from '../sip/srf-types.js';
import type { Logger } from '../util/logger.js';
import { closeMediaServer, connectMediaServer, type FsMediaServer, type FsTarget } from './fsmrf.js';

/** `host:port:secret` (validated by the config pattern); the secret may itself contain ':'. */
export function parseMediaServer(spec: string): FsTarget {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5}):(.+)$/.exec(spec);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw new RangeError(`media server must be host:port:secret with a port 1-65535, got ${JSON.stringify(spec.replace(/:[^:]*$/, ':…'))}`);
  return { host: m[1]!, port, secret: m[3]! };
}

/** A media server in use: `lost` resolves when its event socket goes (steps in flight stop waiting then). */
export interface MediaLease {
  name: string;
  ms: FsMediaServer;
  lost: Promise<void>;
}

export interface MediaPool {
  /** The next server that is up (round-robin), or null when none is. */
  pick(): MediaLease | null;
  /** Readiness probes, one per server: [probe name, probe]. The probe also asks FreeSWITCH `status`. */
  probes(): [string, () => Promise<boolean>][];
  /** Servers and whether each is up (logs, tests). */
  status(): { name: string; up: boolean }[];
  close(): Promise<void>;
}

interface MediaPoolOptions {
  srf: TypedSrf;
  servers: string[];
  listenAddress: string;
  advertisedAddress: string;
  /** bound of one connection attempt and of the readiness probe's `status` */
  timeoutMs: number;
  reconnectMs: number;
  logger: Logger;
  /** Told the addresses the media servers may send SIP from (their hosts, then each one's SIP profile address
   * once connected): the edge's source allow-list takes them as its 'media' group. */
  onSipHosts?: (hosts: string[]) => void;
}

interface Slot {
  name: string;
  target: FsTarget;
  lease: MediaLease | null;
  timer: NodeJS.Timeout | null;
  failures: number;
}

export function startMediaPool(o: MediaPoolOptions): MediaPool {
  const log = o.logger.child({ component: 'media' });
  const slots: Slot[] = o.servers.map((spec) => {
    const target = parseMediaServer(spec);
    return { name: `${target.host}:${target.port}`, target, lease: null, timer: null, failures: 0 };
  });
  let closed = false;
  let next = 0;
  const sipHosts = new Set(slots.map((s) => s.target.host));
  const announceHosts = () => o.onSipHosts?.([...sipHosts]);
  announceHosts();

  function setUp(s: Slot, up: boolean): void {
    metrics.mediaServerUp.set({ server: s.name }, up ? 1 : 0);
  }

  async function connect(s: Slot): Promise<void> {
    s.timer = null;
    if (closed) return;
    try {
      // connecting waits at least the 1 s drachtio-fsmrf gives FreeSWITCH to show its profile
      const ms = await connectMediaServer(o.srf, s.target, {
        listenAddress: o.listenAddress, advertisedAddress: o.advertisedAddress, timeoutMs: Math.max(o.timeoutMs, 2000),
      });
      if (closed) return closeMediaServer(ms);
      let onLost!: () => void;
      const lost = new Promise<void>((r) => (onLost = r));
      s.lease = { name: s.name, ms, lost };
      s.failures = 0;
      setUp(s, true);
      log.info({ server: s.name, sip: ms.sip.ipv4.udp.address }, 'media server connected');
      const sipHost = ms.sip.ipv4.udp.address?.split(':')[0];
      if (sipHost && !sipHosts.has(sipHost)) {
        sipHosts.add(sipHost);
        announceHosts();
      }
      ms.once('end', () => {
        if (s.lease?.ms !== ms) return;
        s.lease = null;
        setUp(s, false);
        onLost();
        closeMediaServer(ms);
        log.warn({ server: s.name }, 'media server connection lost; announcements skipped until it is back');
        schedule(s);
      });
    } catch (err) {
      // first failure is a warning, then quiet (debug) until it comes back
      if (s.failures++ === 0) log.warn({ server: s.name, err: (err as Error).message }, 'media server unreachable; retrying');
      else log.debug({ server: s.name, err: (err as Error).message }, 'media server still unreachable');
      schedule(s);
    }
  }

  function schedule(s: Slot): void {
    if (closed || s.timer) return;
    s.timer = setTimeout(() => void connect(s), o.reconnectMs);
    s.timer.unref();
  }

  for (const s of slots) {
    setUp(s, false);
    void connect(s);
  }

  return {
    pick() {
      for (let i = 0; i < slots.length; i++) {
        const s = slots[(next + i) % slots.length]!;
        if (s.lease && s.lease.ms.connected()) {
          next = (next + i + 1) % slots.length;
          return s.lease;
        }
      }
      return null;
    },
    probes() {
      return slots.map((s, i) => [`media_${i + 1}`, async () => {
        const ms = s.lease?.ms;
        if (!ms || !ms.connected()) return false;
        return /is ready/.test(await ms.api('status'));
      }]);
    },
    status: () => slots.map((s) => ({ name: s.name, up: s.lease !== null })),
    async close() {
      closed = true;
      for (const s of slots) {
        if (s.timer) clearTimeout(s.timer);
        s.timer = null;
        if (s.lease) closeMediaServer(s.lease.ms);
        s.lease = null;
        setUp(s, false);
      }
    },
  };
}
