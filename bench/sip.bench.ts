/**
 * SIP benchmark of the product: sipp UAC (the demo caller) → SIP server → call control → sipp carrier UAS, 2 s calls,
 * at increasing offered CPS, one step of --step seconds each, until a step fails. Series (each system in its own
 * process, so CPU is told apart):
 *   product  = the full metered path started as `npm start` starts it (src/main.ts, env config, defaults otherwise)
 *              on its embedded edge: caller ID → tenant, limits, rating, authorize, B leg, answer, BYE, settle, CDR
 *              and ledger through the outbox into PostgreSQL;
 *   drachtio = the same product behind a real drachtio-server 0.9.4 (../shared; skipped, saying why, when absent);
 *   bare     = a bare drachtio-srf B2BUA (bench/support/bare-b2bua.ts) on the same SIP server: the baseline.
 * `--target product` (default) runs bare + product on the embedded edge, `--target drachtio` bare + product behind
 * the drachtio-server, `--target bare` the bare B2BUA on both servers, `--target all` all four; `--no-baseline` drops
 * the bare series. The ratios product/bare on the same server are printed at the end.
 *
 * Each step reports offered and carried CPS (successful calls / (wall time − 2 s hold)), failed %, CPU of every
 * process (/proc: the SUT and its descendants, drachtio-server, both sipps, this bench) as % of one core, the
 * machine's busy %, and for the product the outbox lag at the end of the step (age of the oldest event not yet in
 * PostgreSQL, over all shards) and its RSS. A step passes with < 0.1 % failed calls, an outbox lag < 2 s, and a run
 * not stretched by queueing (≤ step·1.05 + hold + 1 s). `--soak MINUTES` runs the product at one steady rate (the
 * first --cps) and reports lag, RSS, heap and CPU every 10 s.
 *
 *   npm run bench:sip                                    # bare + product, embedded edge, 50..1200 CPS × 30 s
 *   npm run bench:sip -- --target all --step 10 --cps 200,400,600
 *   npm run bench:sip -- --soak 10 --cps 400             # 10-minute soak at 400 CPS
 * Options: --transport udp|tcp, --built (run dist/src/main.js as npm start does; builds first), --workers N
 * (SIP_WORKERS of the product). SIP_BENCH_STEP_S / SIP_BENCH_CPS work too.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { loadConfig } from '../src/config/config.js';
import { createChargingRedis, waitReady } from '../src/charging/redis.js';
import { outboxStats, withOutboxCommands } from '../src/outbox/stream.js';
import { projectPath } from '../src/util/paths.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../test/helpers/drachtio-server.js';
import { createTestDb } from '../test/helpers/pg.js';
import { freePort } from '../test/helpers/ports.js';
import { TEST_REDIS_URL, deleteKeys, testPrefix } from '../test/helpers/redis.js';
import { killSipps, sipp, waitForListener, waitMs } from '../test/edge/support.js';
import { cpuBetween, loadAvg, machineBusyPct, machineSample, treeSample } from './support/procfs.js';
import { CALLED, CALLER, SIPP_LOG_CAP, seedBench, startBare, startProduct, type Sut } from './support/product.js';


function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const stepS = Number(arg('step') ?? process.env.SIP_BENCH_STEP_S ?? 30);
const steps = (arg('cps') ?? process.env.SIP_BENCH_CPS ?? '50,100,200,300,400,500,600,800,1000,1200').split(',').map(Number);
const transport = (arg('transport') ?? 'udp') as 'udp' | 'tcp';
const soakMin = arg('soak') === undefined ? 0 : Number(arg('soak'));
const targets = (arg('target') ?? 'product').split(',');
const workers = arg('workers');
const HOLD_MS = 2000;
const GOAL_CPS = 1000;
const GOAL_DRACHTIO_RATIO = 0.8;
const MAX_LAG_S = 2;
if (!Number.isFinite(stepS) || stepS <= 0 || steps.some((c) => !Number.isInteger(c) || c <= 0) || !['udp', 'tcp'].includes(transport)
  || !Number.isFinite(soakMin) || soakMin < 0 || targets.some((t) => !['product', 'drachtio', 'bare', 'all'].includes(t)) || (workers !== undefined && !/^\d+$/.test(workers))) {
  console.error('usage: sip.bench.ts [--target product|drachtio|bare|all[,...]] [--no-baseline] [--step SECONDS] [--cps N,N,...] [--transport udp|tcp] [--soak MINUTES] [--built] [--workers N]');
  process.exit(2);
}

type Server = 'embedded' | 'drachtio';
interface Series { system: 'product' | 'bare'; server: Server }
const wanted: Series[] = [];
const add = (s: Series) => { if (!wanted.some((w) => w.system === s.system && w.server === s.server)) wanted.push(s); };
const baseline = !flag('no-baseline');
for (const t of targets) {
  if (t === 'product' || t === 'all') { if (baseline) add({ system: 'bare', server: 'embedded' }); add({ system: 'product', server: 'embedded' }); }
  if (t === 'drachtio' || t === 'all') { if (baseline) add({ system: 'bare', server: 'drachtio' }); add({ system: 'product', server: 'drachtio' }); }
  if (t === 'bare') { add({ system: 'bare', server: 'embedded' }); add({ system: 'bare', server: 'drachtio' }); }
}
const label = (s: Series) => `${s.system}@${s.server === 'embedded' ? 'edge' : 'drachtio-server'}`;
const missing = drachtioServerMissing();

const load0 = loadAvg();
console.log(JSON.stringify({ bench: 'sip', cores: cpus().length, loadAvg: load0, transport, stepSeconds: stepS, holdMs: HOLD_MS, series: wanted.map(label), soakMinutes: soakMin || undefined }));
if (flag('built')) execFileSync('npm', ['run', 'build'], { cwd: projectPath(), stdio: 'inherit' });

const db = await createTestDb();
const prefix = testPrefix();
const config = loadConfig({});
const redis = createChargingRedis({ ...config.redis, url: TEST_REDIS_URL, keyPrefix: prefix });
await waitReady(redis);
const outbox = withOutboxCommands(redis, redis.layout);
const carrierPort = await freePort();
await seedBench(db.pool, redis, carrierPort, transport);

/** Age in seconds of the oldest outbox event not yet written to PostgreSQL (0 = none waiting). */
async function outboxLag(): Promise<number> {
  const s = await outboxStats(outbox);
  return s.oldestAt ? +Math.max(0, (Date.now() - s.oldestAt) / 1000).toFixed(2) : 0;
}

/** nodejs heap used (MB) as the product's /metrics reports it. */
async function heapMb(http: string): Promise<number | null> {
  const text = await fetch(`${http}/metrics`).then((r) => r.text()).catch(() => '');
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(text);
  return m ? +(Number(m[1]) / 2 ** 20).toFixed(1) : null;
}

interface Env { sut: Sut; server: DrachtioServer | null }

async function startSeries(s: Series): Promise<Env> {
  const server = s.server === 'drachtio' ? await startDrachtioServer({ transports: [transport], logLevel: 'notice' }) : null;
  const drachtio = server ? { controlPort: server.controlPort, secret: server.secret, sipPort: server.sipPort } : undefined;
  const sut = s.system === 'bare'
    ? await startBare({ transport, uasPort: carrierPort, ...(drachtio ? { drachtio } : {}) })
    : await startProduct({ dbUrl: db.url, prefix, transport, built: flag('built'), ...(drachtio ? { drachtio } : {}), ...(workers ? { env: { SIP_WORKERS: workers } } : {}) });
  return { sut, server };
}

interface Row {
  series: string; cps: number; carriedCps: number; calls: number; successful: number; failed: number; failedPct: number;
  cpuPct: Record<string, number>; machineBusyPct: number; sutCpuMsPerCall: number; outboxLagS: number | null; outboxLagMaxS: number | null;
  rssMb: number; loadAvg: number[]; passed: boolean; why: string;
}

async function step(s: Series, env: Env, cps: number, seconds: number, onTick?: (elapsedS: number) => Promise<void>): Promise<Row> {
  const calls = cps * seconds;
  const uas = sipp({ scenario: 'bench-uas-answer.xml', port: carrierPort, transport, calls, timeoutS: seconds + 90, extra: ['-max_socket', '8000', ...SIPP_LOG_CAP] });
  await waitForListener(carrierPort, transport);
  const sut0 = treeSample(env.sut.pid);
  const srv0 = env.server ? treeSample(env.server.pid) : null;
  const m0 = machineSample();
  const self0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const uac = sipp({
    scenario: 'call-uac-answer.xml', remote: `127.0.0.1:${env.sut.sipPort}`, port: await freePort(), transport, calls, rate: cps, service: CALLED,
    timeoutS: seconds + 90, extra: ['-key', 'caller', CALLER, '-d', String(HOLD_MS), '-l', String(cps * 10), '-max_socket', '8000', ...SIPP_LOG_CAP],
  });
  // sipp's CPU is read while it runs (its /proc entry goes when it exits); the outbox lag is watched every second
  const sippCpu = { uac: 0, uas: 0 };
  let lagMax: number | null = s.system === 'product' ? 0 : null;
  let finished = false;
  const watcher = (async () => {
    let ticks = 0;
    while (!finished) {
      for (const [k, p] of [['uac', uac.proc.pid], ['uas', uas.proc.pid]] as const) {
        const v = p ? cpuBetween(new Map(), treeSample(p).cpuByPid) : 0;
        if (v > 0) sippCpu[k] = v;
      }
      if (lagMax !== null) lagMax = Math.max(lagMax, await outboxLag().catch(() => 0));
      ticks++;
      if (onTick && ticks % 10 === 0) await onTick(ticks);
      await waitMs(1000);
    }
  })();
  const a = await uac.done;
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const sutCpu = cpuBetween(sut0.cpuByPid, treeSample(env.sut.pid).cpuByPid);
  const srvCpu = env.server && srv0 ? cpuBetween(srv0.cpuByPid, treeSample(env.server.pid).cpuByPid) : 0;
  const busy = machineBusyPct(m0, machineSample());
  const self = process.cpuUsage(self0);
  const lagEnd = s.system === 'product' ? await outboxLag() : null;
  const rss = treeSample(env.sut.pid).rssBytes;
  finished = true;
  await watcher;
  await uas.done;
  const failed = calls - a.successful;
  const pct = (cpuS: number) => +((100 * cpuS) / wallS).toFixed(1);
  const cpuPct: Record<string, number> = { [s.system]: pct(sutCpu) };
  if (env.server) cpuPct['drachtio-server'] = pct(srvCpu);
  Object.assign(cpuPct, { 'sipp-uac': pct(sippCpu.uac), 'sipp-uas': pct(sippCpu.uas), bench: pct((self.user + self.system) / 1e6) });
  const why: string[] = [];
  if (failed / calls >= 0.001) why.push(`${failed} failed`);
  if (lagEnd !== null && lagEnd >= MAX_LAG_S) why.push(`outbox lag ${lagEnd} s`);
  if (wallS > seconds * 1.05 + HOLD_MS / 1000 + 1) why.push(`stretched to ${wallS.toFixed(1)} s`);
  return {
    series: label(s), cps, carriedCps: +(a.successful / Math.max(1, wallS - HOLD_MS / 1000)).toFixed(1), calls, successful: a.successful, failed,
    failedPct: +((100 * failed) / calls).toFixed(3), cpuPct, machineBusyPct: busy, sutCpuMsPerCall: +((1000 * (sutCpu + srvCpu)) / Math.max(1, a.successful)).toFixed(3),
    outboxLagS: lagEnd, outboxLagMaxS: lagMax, rssMb: +(rss / 2 ** 20).toFixed(1), loadAvg: loadAvg(), passed: why.length === 0, why: why.join(', '),
  };
}

const rows: Row[] = [];
const best = new Map<string, Row>();
const skipped: string[] = [];

async function ladder(s: Series): Promise<void> {
  if (s.server === 'drachtio' && missing) {
    skipped.push(`${label(s)}: skipped, ${missing}`);
    console.log(JSON.stringify({ bench: 'sip', series: label(s), skipped: missing }));
    return;
  }
  const env = await startSeries(s);
  try {
    for (const cps of steps) {
      const row = await step(s, env, cps, stepS);
      rows.push(row);
      console.log(JSON.stringify({ bench: 'sip', ...row }));
      if (!row.passed) break;
      best.set(row.series, row);
      // let the product's outbox and timers settle between steps
      await waitMs(2000);
    }
  } finally {
    killSipps();
    await env.sut.stop();
    await env.server?.stop();
  }
}

async function soak(s: Series, minutes: number): Promise<void> {
  if (s.server === 'drachtio' && missing) {
    console.log(JSON.stringify({ bench: 'sip-soak', skipped: missing }));
    return;
  }
  const env = await startSeries(s);
  const cps = steps[0]!;
  const samples: { t: number; lagS: number; rssMb: number; heapMb: number | null }[] = [];
  let lastCpu = treeSample(env.sut.pid).cpuByPid;
  try {
    const row = await step(s, env, cps, Math.round(minutes * 60), async (t) => {
      const tree = treeSample(env.sut.pid);
      const sample = { t, lagS: await outboxLag(), rssMb: +(tree.rssBytes / 2 ** 20).toFixed(1), heapMb: await heapMb(env.sut.http!) };
      samples.push(sample);
      console.log(JSON.stringify({ bench: 'sip-soak', series: label(s), cps, ...sample, cpuPct: +(cpuBetween(lastCpu, tree.cpuByPid) * 10).toFixed(1), loadAvg: loadAvg() }));
      lastCpu = tree.cpuByPid;
    });
    // flat memory: the last minute's lowest heap and RSS against the second minute's (after warm-up)
    const low = (from: number, to: number, f: (x: typeof samples[number]) => number | null) => Math.min(...samples.filter((x) => x.t > from && x.t <= to).map((x) => f(x) ?? Infinity));
    const end = samples.at(-1)?.t ?? 0;
    const heapGrowth = end > 120 ? +(low(end - 60, end, (x) => x.heapMb) / low(60, 120, (x) => x.heapMb)).toFixed(2) : null;
    const rssGrowth = end > 120 ? +(low(end - 60, end, (x) => x.rssMb) / low(60, 120, (x) => x.rssMb)).toFixed(2) : null;
    const lagMax = Math.max(0, ...samples.map((x) => x.lagS));
    console.log(JSON.stringify({
      bench: 'sip-soak', series: label(s), cps, minutes, failedPct: row.failedPct, outboxLagMaxS: lagMax, heapGrowth, rssGrowth,
      goal: 'soak at 80% of the highest passing rate: < 0.1% failed, lag < 2 s, flat memory (last minute ≤ 1.1 × second minute)',
      goalMet: row.failedPct < 0.1 && lagMax < MAX_LAG_S && heapGrowth !== null && heapGrowth <= 1.1 && rssGrowth !== null && rssGrowth <= 1.1,
      loadAvg: loadAvg(),
    }));
  } finally {
    killSipps();
    await env.sut.stop();
    await env.server?.stop();
  }
}

try {
  if (soakMin > 0) await soak(wanted.find((w) => w.system === 'product') ?? { system: 'product', server: 'embedded' }, soakMin);
  else for (const s of wanted) await ladder(s);
} finally {
  killSipps();
  redis.disconnect();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db.drop();
}

if (soakMin === 0) {
  console.log('\n series                   | CPS  | carried | failed % | CPU % (one core)                                  | busy % | CPU ms/call | lag s (max) | RSS MB | pass');
  for (const r of rows) {
    const cpu = Object.entries(r.cpuPct).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(` ${r.series.padEnd(24)} | ${String(r.cps).padEnd(4)} | ${String(r.carriedCps).padEnd(7)} | ${String(r.failedPct).padEnd(8)} | ${cpu.padEnd(49)} | ${String(r.machineBusyPct).padEnd(6)} | ${String(r.sutCpuMsPerCall).padEnd(11)} | ${r.outboxLagS === null ? '-'.padEnd(11) : `${r.outboxLagS} (${r.outboxLagMaxS})`.padEnd(11)} | ${String(r.rssMb).padEnd(6)} | ${r.passed ? 'yes' : `NO: ${r.why}`}`);
  }
  for (const s of skipped) console.log(` ${s}`);
  const summary: Record<string, unknown> = { bench: 'sip', transport, stepSeconds: stepS };
  for (const s of wanted) summary[`${label(s)} highestPassingCps`] = skipped.some((x) => x.startsWith(label(s))) ? null : best.get(label(s))?.cps ?? 0;
  for (const server of ['embedded', 'drachtio'] as const) {
    const p = best.get(label({ system: 'product', server }));
    const b = best.get(label({ system: 'bare', server }));
    if (!p || !b) continue;
    const name = server === 'embedded' ? 'edge' : 'drachtio-server';
    summary[`product/bare CPS @${name}`] = +(p.cps / b.cps).toFixed(2);
    // CPU per call at the highest step both passed: what the metered path costs over the bare B2BUA
    const common = rows.filter((r) => r.passed && r.series === label({ system: 'product', server })).map((r) => r.cps)
      .filter((c) => rows.some((r) => r.passed && r.series === label({ system: 'bare', server }) && r.cps === c)).at(-1);
    if (common !== undefined) {
      const pc = rows.find((r) => r.series === label({ system: 'product', server }) && r.cps === common)!;
      const bc = rows.find((r) => r.series === label({ system: 'bare', server }) && r.cps === common)!;
      summary[`product/bare CPU per call @${name} (${common} CPS)`] = +(pc.sutCpuMsPerCall / bc.sutCpuMsPerCall).toFixed(2);
    }
  }
  const ran = (s: Series) => wanted.some((w) => w.system === s.system && w.server === s.server) && !skipped.some((x) => x.startsWith(label(s)));
  const goals: Record<string, unknown> = {};
  if (ran({ system: 'product', server: 'embedded' })) {
    const c = best.get('product@edge')?.cps ?? 0;
    goals[`product on the embedded edge >= ${GOAL_CPS} CPS (< 0.1% failed, lag < ${MAX_LAG_S} s)`] = c >= GOAL_CPS ? `met (${c})` : `NOT met (${c})`;
  }
  if (ran({ system: 'product', server: 'drachtio' }) && ran({ system: 'bare', server: 'drachtio' })) {
    const r = (best.get('product@drachtio-server')?.cps ?? 0) / Math.max(1, best.get('bare@drachtio-server')?.cps ?? 0);
    goals[`product behind drachtio-server >= ${GOAL_DRACHTIO_RATIO} of bare`] = r >= GOAL_DRACHTIO_RATIO ? `met (${r.toFixed(2)})` : `NOT met (${r.toFixed(2)})`;
  }
  if (!steps.includes(GOAL_CPS) && !steps.some((c) => c > GOAL_CPS)) goals.note = `no step reaches ${GOAL_CPS} CPS: the CPS goal cannot be met by this run`;
  console.log(`\n${JSON.stringify({ ...summary, goals, loadAvgStart: load0, loadAvgEnd: loadAvg() })}`);
}
process.exit(0);
