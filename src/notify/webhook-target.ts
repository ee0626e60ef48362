/**
 * Where a tenant's webhook may point. The URL is the tenant's input, so it must not reach into our own network
 * (SSRF: the notifier would POST to an internal service and, before, kept its answer on the row for the tenant to
 * read). A host is refused when it is, or resolves to, an address that is not on the public internet: loopback,
 * private, link-local, unique-local, multicast, unspecified, CGNAT, documentation and reserved ranges, and the IPv6
 * forms that carry such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4). A name is resolved once and
 * every address it has must pass; the caller then connects to the address that was checked (no second resolution
 * that a short-lived DNS answer could point elsewhere). Ranges an operator lists in NOTIFY_WEBHOOK_ALLOW_CIDRS
 * (config only, never tenant input) are let through for deployments whose receivers are on a private network.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ipBytes } from '../util/ip.js';

/** Addresses of a host name (the system resolver by default; tests pass their own). */
export type HostResolver = (host: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

interface Net { bytes: number[]; bits: number }

function netOf(cidr: string): Net | null {
  const [addr, bitsText] = cidr.split('/') as [string, string | undefined];
  const bytes = ipBytes(addr);
  const bits = bitsText === undefined ? (bytes?.length ?? 0) * 8 : Number(bitsText);
  if (!bytes || !Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return null;
  return { bytes, bits };
}

function within(addr: number[], n: Net): boolean {
  if (addr.length !== n.bytes.length) return false;
  for (let i = 0; i < n.bits; i++) {
    const shift = 7 - (i & 7);
    if (((addr[i >> 3]! >> shift) & 1) !== ((n.bytes[i >> 3]! >> shift) & 1)) return false;
  }
  return true;
}

const nets = (list: string[]): Net[] => list.map((c) => netOf(c)!);

/** IPv4 ranges that are not the public internet (RFC 6890 and its updates). */
const V4_REFUSED = nets([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
]);
/** IPv6 ranges that are not the public internet; the ones that embed an IPv4 address are checked by it instead. */
const V6_REFUSED = nets([
  '::/128', '::1/128', '64:ff9b:1::/48', '100::/64', '2001::/23', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8',
]);
/** IPv6 forms carrying an IPv4 address: prefix, and where the 4 bytes sit. */
const V6_EMBEDDING: { net: Net; at: number }[] = [
  { net: netOf('::ffff:0:0/96')!, at: 12 }, // IPv4-mapped
  { net: netOf('::/96')!, at: 12 }, // IPv4-compatible (deprecated)
  { net: netOf('64:ff9b::/96')!, at: 12 }, // NAT64
  { net: netOf('2002::/16')!, at: 2 }, // 6to4
];

/** The address as IPv4 when it is an IPv6 form that carries one (or IPv4 itself). */
function embeddedV4(b: number[]): number[] | null {
  if (b.length === 4) return b;
  const e = V6_EMBEDDING.find((x) => within(b, x.net));
  return e ? b.slice(e.at, e.at + 4) : null;
}

/** Whether `ip` is refused as a webhook address; `allowCidrs` (operator config) lets chosen ranges through. */
export function refusedAddress(ip: string, allowCidrs: readonly string[]): boolean {
  const b = ipBytes(ip);
  if (!b) return true;
  const v4 = embeddedV4(b);
  const allowed = allowCidrs.map(netOf).filter((n): n is Net => n !== null);
  if (allowed.some((n) => within(b, n) || (v4 !== null && within(v4, n)))) return false;
  if (v4) return V4_REFUSED.some((n) => within(v4, n));
  return V6_REFUSED.some((n) => within(b, n));
}

export type WebhookTarget =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; why: 'refused' | 'unresolved'; message: string };

export const REFUSED_MESSAGE = 'the host is not a public address (loopback, private, link-local, unique-local, multicast, unspecified, CGNAT or reserved): a webhook must be reachable on the internet';

/** The address to connect to for `url`, after resolving its host once and checking every address it has. */
export async function webhookTarget(url: URL, allowCidrs: readonly string[], resolve: HostResolver): Promise<WebhookTarget> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: 4 | 6 }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await resolve(host);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return { ok: false, why: 'unresolved', message: `the host ${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}` };
    }
  }
  if (addresses.length === 0) return { ok: false, why: 'unresolved', message: `the host ${host} does not resolve` };
  if (addresses.some((a) => refusedAddress(a.address, allowCidrs))) return { ok: false, why: 'refused', message: REFUSED_MESSAGE };
  return { ok: true, address: addresses[0]!.address, family: addresses[0]!.family };
}
