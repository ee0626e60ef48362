/** IP addresses as bytes (no I/O): for range checks (webhook targets) and per-network keys (API limits). */
import { isIP } from 'node:net';

/** The bytes of an IP address (4 or 16), or null when it is none. */
export function ipBytes(ip: string): number[] | null {
  const plain = ip.replace(/%.*$/, ''); // a zone index (fe80::1%eth0) is not part of the address
  const v = isIP(plain);
  if (v === 4) return plain.split('.').map(Number);
  if (v !== 6) return null;
  let text = plain;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const b = quad[1]!.split('.').map(Number);
    text = text.slice(0, -quad[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}
