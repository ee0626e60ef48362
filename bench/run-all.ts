/**
 * `npm run bench`: every benchmark in turn, each as its own process so one's load does not skew the other.
 * Extra arguments go to the SIP benchmark (e.g. `npm run bench -- --step 10 --cps 50,100,200`).
 */
import { spawnSync } from 'node:child_process';
import { projectPath } from '../src/util/paths.js';

const benches: { name: string; file: string; args: string[]; node?: string[] }[] = [
  { name: 'charging', file: 'bench/charging.bench.ts', args: [] },
  { name: 'outbox', file: 'bench/outbox.bench.ts', args: [] },
  { name: 'sip', file: 'bench/sip.bench.ts', args: process.argv.slice(2) },
  { name: 'flood', file: 'bench/flood.bench.ts', args: [] },
  { name: 'memory', file: 'bench/memory.bench.ts', args: [], node: ['--expose-gc'] },
];
let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench:${b.name} ===`);
  const r = spawnSync(process.execPath, ['--max-semi-space-size=64', ...(b.node ?? []), '--import', 'tsx', projectPath(b.file), ...b.args], { stdio: 'inherit', cwd: projectPath() });
  if (r.status !== 0) {
    failed += 1;
    console.error(`bench:${b.name} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
