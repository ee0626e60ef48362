/**
 * Which source addresses may talk SIP to the edge at all: the ingress trunks (hosts or CIDR networks), the carrier
 * gateways (their resolved addresses) and, later, the media servers. The edge asks `allows(address)` for every
 * datagram and TCP connection before it parses or keeps anything, so a source outside the list costs nothing.
 * Entries come in named groups ('trunks', 'gateways', 'media', …) so each feeder replaces only its own; the edge
 * holds only this interface, which an edge process can feed by itself (see sources-pg.ts). IPv4, like the edge.
 */
import { isIPv4 } from 'node:net';

export interface SourceFilter {
  allows(address: string): boolean;
}

/** Every source allowed: for tests of the SIP machinery itself and for benchmarks, never for `npm start`. */
export const ANY_SOURCE: SourceFilter = { allows: () => true };

interface Net { base: number; mask: number }

/** IPv4 dotted quad to an unsigned 32-bit number; NaN when it is not one. */
function ipv4ToInt(a: string): number {
  if (!isIPv4(a)) return NaN;
  const p = a.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/** `1.2.3.4` or `10.0.0.0/8` (host bits are ignored) → network; undefined for anything else (IPv6, names). */
export function parseSourceEntry(entry: string): Net | undefined {
  const [addr = '', bitsText] = entry.trim().split('/');
  const ip = ipv4ToInt(addr);
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (Number.isNaN(ip) || !(bits >= 0 && bits <= 32)) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, mask };
}

export class SourceAllowList implements SourceFilter {
  private readonly groups = new Map<string, string[]>();
  private hosts = new Set<string>();
  private nets: Net[] = [];

  /**
   * Replace the entries of one group. Returns the entries that are not IPv4 hosts or networks (ignored: the edge
   * listens on IPv4 only), so the feeder can log them.
   */
  set(group: string, entries: readonly string[]): string[] {
    const bad = entries.filter((e) => parseSourceEntry(e) === undefined);
    this.groups.set(group, entries.filter((e) => parseSourceEntry(e) !== undefined));
    this.rebuild();
    return bad;
  }

  private rebuild(): void {
    const hosts = new Set<string>();
    const nets: Net[] = [];
    for (const entries of this.groups.values()) {
      for (const e of entries) {
        const n = parseSourceEntry(e)!;
        if (n.mask === 0xffffffff) hosts.add(e.split('/')[0]!.trim());
        else nets.push(n);
      }
    }
    this.hosts = hosts;
    this.nets = nets;
  }

  allows(address: string): boolean {
    if (this.hosts.has(address)) return true;
    if (this.nets.length === 0) return false;
    const ip = ipv4ToInt(address);
    return !Number.isNaN(ip) && this.nets.some((n) => ((ip & n.mask) >>> 0) === n.base);
  }

  /** Entries by group, for logs and the firewall rules. */
  snapshot(): Record<string, string[]> {
    return Object.fromEntries([...this.groups].map(([g, e]) => [g, [...e]]));
  }

  get size(): number {
    return this.hosts.size + this.nets.length;
  }
}
