/**
 * What a flood from non-trunk sources costs the edge. One process hosts the embedded edge with the
 * production door settings (config defaults: drop unknown sources, per-source rate limit) and an allow-list holding
 * only the trunk (127.0.0.1, where both sipps run), plus a bare drachtio-srf B2BUA. Two phases of trunk calls at the
 * same CPS, measured the same way:
 *   baseline — sipp UAC → edge → B2BUA → edge → sipp UAS, nothing else;
 *   flood    — the same while flooder processes send INVITEs and OPTIONS from 16 non-trunk addresses.
 * Prints one JSON line per phase, then a table: calls completed and failed, edge+app CPU (this process), datagrams
 * the flooders sent and the edge counted as dropped, and the flood/baseline ratios, with the load average beside.
 *
 *   npm run bench:flood                                   # 100 CPS × 20 s, flood 20 000 datagrams/s
 *   npm run bench:flood -- --cps 100 --seconds 10 --flood 20000
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { loadConfig } from '../src/config/config.js';
import { doorOptions } from '../src/edge/door.js';
import { SourceAllowList } from '../src/edge/sources.js';
import { registry } from '../src/observability/metrics.js';
import { projectPath } from '../src/util/paths.js';
import { freePort } from '../test/helpers/ports.js';
import { bareB2bua, connectSrf, disconnectSrf, killSipps, sipp, startTestEdge, waitForListener, waitMs } from '../test/edge/support.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) {
    console.error('usage: flood.bench.ts [--cps N] [--seconds S] [--flood DATAGRAMS_PER_S]');
    process.exit(2);
  }
  return v;
}

const cps = arg('cps', 100);
const seconds = arg('seconds', 20);
const floodRate = arg('flood', 20_000);
const FLOODERS = 2; // one Node process sends ~10-20k datagrams/s; two share the rate

const sources = new SourceAllowList();
sources.set('trunks', ['127.0.0.1']);
const edge = await startTestEdge({ transports: ['udp'], sources, ...doorOptions(loadConfig({})) });
const srf = await connectSrf(edge.controlPort);
let uasPort = 0;
bareB2bua(srf, (req) => `sip:${req.calledNumber}@127.0.0.1:${uasPort}`);

async function dropped(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('softswitch_sip_dropped_total')!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels['reason']), v.value]));
}

function flooder(first: number, rate: number, secs: number): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [projectPath('test', 'security', 'flooder.mjs'), String(edge.sipPort), String(rate), String(secs), String(first), '8'],
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as { sent: number; seconds: number })));
  });
}

interface Phase {
  phase: 'baseline' | 'flood'; cps: number; calls: number; completed: number; failed: number; failedPct: number;
  edgeCpuPct: number; floodSent: number; floodRateAchieved: number; droppedUnknownSource: number; droppedOther: number; loadAvg1m: number;
}

async function phase(name: Phase['phase']): Promise<Phase> {
  const calls = cps * seconds;
  uasPort = await freePort();
  const uas = sipp({ scenario: 'edge-uas-basic.xml', port: uasPort, calls, timeoutS: seconds + 60, extra: ['-max_socket', '2000'] });
  await waitForListener(uasPort, 'udp');
  const d0 = await dropped();
  // the flood starts first and outlasts the calls, so every call meets it
  const floods = name === 'flood'
    ? Array.from({ length: FLOODERS }, (_, i) => flooder(2 + 8 * i, floodRate / FLOODERS, seconds + 3))
    : [];
  if (name === 'flood') await waitMs(1000);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const uac = sipp({
    scenario: 'edge-uac-basic.xml', remote: `127.0.0.1:${edge.sipPort}`, port: await freePort(), calls, rate: cps,
    service: '2000', timeoutS: seconds + 60, extra: ['-l', String(cps * 10), '-max_socket', '2000'],
  });
  const a = await uac.done;
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const load = loadavg()[0]!;
  await uas.done;
  const sent = await Promise.all(floods);
  await waitMs(500);
  const d1 = await dropped();
  const delta = (k: string): number => (d1[k] ?? 0) - (d0[k] ?? 0);
  const failed = a.failed + Math.max(0, calls - a.successful - a.failed);
  const floodSent = sent.reduce((s, f) => s + f.sent, 0);
  return {
    phase: name, cps, calls, completed: a.successful, failed, failedPct: Number(((100 * failed) / calls).toFixed(3)),
    edgeCpuPct: Number(((100 * (cpu.user + cpu.system)) / wallUs).toFixed(1)),
    floodSent, floodRateAchieved: sent.length ? Math.round(sent.reduce((s, f) => s + f.sent / f.seconds, 0)) : 0,
    droppedUnknownSource: delta('unknown_source'),
    droppedOther: Object.keys(d1).filter((k) => k !== 'unknown_source').reduce((s, k) => s + delta(k), 0),
    loadAvg1m: Number(load.toFixed(2)),
  };
}

const rows: Phase[] = [];
for (const p of ['baseline', 'flood'] as const) {
  const r = await phase(p);
  rows.push(r);
  console.log(JSON.stringify({ bench: 'flood', ...r }));
  await waitMs(1000);
}
killSipps();
disconnectSrf(srf);
await edge.close();

const [base, flood] = rows as [Phase, Phase];
console.log(`\n  phase    | CPS | calls | completed | failed % | edge+app CPU % | flood sent (/s)      | dropped unknown_source | other drops | load avg`);
for (const r of rows) {
  console.log(`  ${r.phase.padEnd(8)} | ${String(r.cps).padStart(3)} | ${String(r.calls).padStart(5)} | ${String(r.completed).padStart(9)} | ${String(r.failedPct).padStart(8)} | ${String(r.edgeCpuPct).padStart(14)} | ${`${r.floodSent} (${r.floodRateAchieved})`.padEnd(20)} | ${String(r.droppedUnknownSource).padStart(22)} | ${String(r.droppedOther).padStart(11)} | ${r.loadAvg1m}`);
}
const summary = {
  bench: 'flood', cps, seconds, floodRateOffered: floodRate, floodRateAchieved: flood.floodRateAchieved,
  completedRatio: Number((flood.completed / Math.max(1, base.completed)).toFixed(4)),
  cpuRatio: Number((flood.edgeCpuPct / Math.max(0.1, base.edgeCpuPct)).toFixed(2)),
  failedPctUnderFlood: flood.failedPct, goalMet: flood.failedPct < 0.1,
  droppedOfSent: Number((flood.droppedUnknownSource / Math.max(1, flood.floodSent)).toFixed(4)),
};
console.log(`\n${JSON.stringify(summary)}`);
process.exit(0);
