/**
 * Reads .cpuprofile files (node --cpu-prof; one per thread) and prints, per file, the on-CPU samples (idle and
 * "(program)" left out) and the share of them whose stack contains each item below: the per-call costs looked at in
 * docs/performance.md "Profile". Shares, not milliseconds: on a shared machine the sampler's time deltas include
 * time the thread was not running, the sample counts' proportions much less so.
 *   npx tsx bench/support/profile-shares.ts DIR/*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[] }

/** item → a function that must be on the stack (by name; url part when the name is ambiguous) */
const ITEMS: Record<string, (fn: string, url: string) => boolean> = {
  'logging (pino LOG)': (fn, url) => fn === 'LOG' && url.includes('pino'),
  'Intl.DateTimeFormat per call (dayKey)': (fn) => fn === 'dayKey',
  'header-name canonicalisation (edge)': (fn) => fn === 'canonicalName',
  'edge: SIP in (onMessage)': (fn, url) => fn === 'onMessage' && url.includes('edge/inbound'),
  'drachtio-srf: wire frames in (_onMsg)': (fn, url) => fn === '_onMsg' && url.includes('drachtio-srf'),
  'drachtio-srf: SIP parse': (fn, url) => fn === 'parse' && url.includes('sip-parser'),
  'ioredis: commands out': (fn, url) => fn === 'sendCommand' && url.includes('ioredis'),
  'UDP send (dgram)': (fn, url) => fn === 'doSend' && url.includes('dgram'),
  'garbage collector': (fn) => fn === '(garbage collector)',
};

for (const file of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const count = new Map<number, number>();
  for (const s of p.samples) count.set(s, (count.get(s) ?? 0) + 1);
  let busy = 0;
  const hits = new Map<string, number>(Object.keys(ITEMS).map((k) => [k, 0]));
  for (const [id, c] of count) {
    const fn = byId.get(id)!.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') continue;
    busy += c;
    const stack: ProfileNode['callFrame'][] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame);
    for (const [k, match] of Object.entries(ITEMS)) if (stack.some((f) => match(f.functionName, f.url))) hits.set(k, hits.get(k)! + c);
  }
  console.log(`${file}: ${busy} on-CPU samples`);
  for (const [k, v] of hits) console.log(`  ${((100 * v) / Math.max(1, busy)).toFixed(1).padStart(5)} %  ${k}`);
}
