/**
 * SIP edge benchmark: sipp UAC → embedded edge → bare drachtio-srf B2BUA (same process) → edge → sipp UAS, at
 * increasing CPS. Each step runs for STEP seconds; a step passes when < 0.1% of its calls failed and the run was not
 * stretched (≤ STEP·1.05 + 1 s: a run slowed down by queueing or timeouts is not "sustained"). Prints one JSON line
 * per step, then a table and the highest passing CPS with the edge+app CPU use (process.cpuUsage of this process,
 * which hosts only the edge and the app; sipp runs in its own processes).
 *
 *   npm run bench:sip                           # steps 50,100,200,300,400,600,800,1000 × 30 s
 *   npm run bench:sip -- --step 5 --cps 50,100  # quick run
 * (SIP_BENCH_STEP_S / SIP_BENCH_CPS work too.)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { freePort } from '../test/helpers/ports.js';
import { bareB2bua, connectSrf, disconnectSrf, killSipps, sipp, startTestEdge, waitForListener, waitMs } from '../test/edge/support.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const stepS = Number(arg('step') ?? process.env.SIP_BENCH_STEP_S ?? 30);
const steps = (arg('cps') ?? process.env.SIP_BENCH_CPS ?? '50,100,200,300,400,600,800,1000').split(',').map(Number);
const transport = (arg('transport') ?? 'udp') as 'udp' | 'tcp';
if (!Number.isFinite(stepS) || stepS <= 0 || steps.some((c) => !Number.isInteger(c) || c <= 0)) {
  console.error('usage: sip.bench.ts [--step SECONDS] [--cps N,N,...] [--transport udp|tcp]');
  process.exit(2);
}

const edge = await startTestEdge({ transports: [transport] });
const srf = await connectSrf(edge.controlPort);
let uasPort = 0;
bareB2bua(srf, (req) => `sip:${req.calledNumber}@127.0.0.1:${uasPort};transport=${transport}`);

interface Row { cps: number; achievedCps: number; seconds: number; calls: number; successful: number; failed: number; failedPct: number; edgeAppCpuPct: number; loopDelayP99Ms: number; passed: boolean }
const rows: Row[] = [];
let best: Row | undefined;

for (const cps of steps) {
  const calls = cps * stepS;
  uasPort = await freePort();
  const uas = sipp({ scenario: 'edge-uas-basic.xml', port: uasPort, transport, calls, timeoutS: stepS + 60, extra: ['-max_socket', '2000'] });
  await waitForListener(uasPort, transport);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const uac = sipp({
    scenario: 'edge-uac-basic.xml', remote: `127.0.0.1:${edge.sipPort}`, port: await freePort(), transport, calls, rate: cps,
    service: '2000', timeoutS: stepS + 60, extra: ['-l', String(cps * 10), '-max_socket', '2000'],
  });
  // CPU is measured over the caller's run (the offered load), not the callee's idle tail
  const a = await uac.done;
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  await uas.done;
  const failed = a.failed + Math.max(0, calls - a.successful - a.failed);
  const row: Row = {
    cps, achievedCps: Number((calls / (wallUs / 1e6)).toFixed(1)), seconds: stepS, calls, successful: a.successful, failed,
    failedPct: Number(((100 * failed) / calls).toFixed(3)),
    edgeAppCpuPct: Number(((100 * (cpu.user + cpu.system)) / wallUs).toFixed(1)),
    loopDelayP99Ms: Number((loop.percentile(99) / 1e6).toFixed(1)),
    // sustained: < 0.1 % failed AND not stretched (1 s for the last calls to finish, 5 % for sipp's pacing)
    passed: failed / calls < 0.001 && wallUs / 1e6 <= stepS * 1.05 + 1,
  };
  rows.push(row);
  console.log(JSON.stringify({ bench: 'sip', transport, ...row }));
  if (!row.passed) break;
  best = row;
  await waitMs(1000);
}

killSipps();
disconnectSrf(srf);
await edge.close();

console.log('\n  CPS | achieved | calls  | ok     | failed | failed % | edge+app CPU % (of one core) | loop p99 ms | pass');
for (const r of rows) {
  console.log(`${String(r.cps).padStart(5)} | ${String(r.achievedCps).padEnd(8)} | ${String(r.calls).padEnd(6)} | ${String(r.successful).padEnd(6)} | ${String(r.failed).padEnd(6)} | ${String(r.failedPct).padEnd(8)} | ${String(r.edgeAppCpuPct).padEnd(28)} | ${String(r.loopDelayP99Ms).padEnd(11)} | ${r.passed ? 'yes' : 'NO'}`);
}
const summary = { bench: 'sip', transport, stepSeconds: stepS, highestPassingCps: best?.cps ?? 0, cpuPctAtHighest: best?.edgeAppCpuPct ?? null };
console.log(`\n${JSON.stringify(summary)}`);
process.exit(0);
