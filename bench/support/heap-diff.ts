/**
 * Compare two V8 heap snapshots (bench:memory --snapshot): self size and count per node type and constructor name,
 * the 40 that grew most from A to B. `npx tsx bench/support/heap-diff.ts A.heapsnapshot B.heapsnapshot [divisor]`
 * (divisor: e.g. the number of live calls, to print bytes and objects per call).
 */
import { readFileSync } from 'node:fs';

interface Snap { snapshot: { meta: { node_fields: string[]; node_types: unknown[] } }; nodes: number[]; strings: string[] }

function summarise(file: string): Map<string, { size: number; count: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snap;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0] as string[];
  const [iType, iName, iSize, width] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size'), f.length];
  const out = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'code') name = '(code)';
    else if (name.length > 60) name = `${name.slice(0, 60)}…`;
    const k = `${type}:${name}`;
    const e = out.get(k) ?? { size: 0, count: 0 };
    e.size += s.nodes[i + iSize]!;
    e.count += 1;
    out.set(k, e);
  }
  return out;
}

const [a, b, div] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: heap-diff.ts A.heapsnapshot B.heapsnapshot [divisor]');
  process.exit(2);
}
const A = summarise(a);
const B = summarise(b);
const d = Number(div ?? 1);
const rows = [...new Set([...A.keys(), ...B.keys()])].map((k) => ({
  k, size: (B.get(k)?.size ?? 0) - (A.get(k)?.size ?? 0), count: (B.get(k)?.count ?? 0) - (A.get(k)?.count ?? 0),
})).sort((x, y) => y.size - x.size);
const totalA = [...A.values()].reduce((s, x) => s + x.size, 0);
const totalB = [...B.values()].reduce((s, x) => s + x.size, 0);
console.log(`total self size ${totalA} -> ${totalB} (+${totalB - totalA}, ${((totalB - totalA) / d).toFixed(0)} per unit)`);
console.log('   Δ bytes |  Δ count | bytes/unit | count/unit | type:constructor');
for (const r of rows.slice(0, 40)) {
  console.log(`${String(r.size).padStart(10)} | ${String(r.count).padStart(8)} | ${(r.size / d).toFixed(0).padStart(10)} | ${(r.count / d).toFixed(1).padStart(10)} | ${r.k}`);
}
