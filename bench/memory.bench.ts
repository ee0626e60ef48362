/**
 * Memory benchmark (run with --expose-gc): what the product retains per live call, and whether it keeps anything
 * after calls end. The product runs in THIS process (startApp as src/main.ts calls it with one call-control
 * instance: embedded edge + app in one thread, the default SIP_WORKERS=1) so that gc() and the heap figures are
 * its own; its stores are a bench database and Redis key prefix. Calls come from sipp (the demo caller) through the
 * edge and the whole metered path to a sipp carrier, as in bench:sip.
 *
 * 1. live calls: --live calls (default 10,000) placed at --cps (default 200) and held until all are up; heap used
 *    after a full GC with them live, minus the heap after GC before them (after a warm-up), divided by the live
 *    calls = retained bytes per live call (RSS growth per call too). Goal < 20 KiB.
 * 2. growth: --total calls (default 100,000) of 0.5 s each at --rate (default 300 CPS); heap after GC at the start
 *    (after the warm-up) and at the end (every call ended, settled and written through the outbox), and every 10%
 *    on the way. Goal: no retained growth.
 * With --snapshot PREFIX, heap snapshots PREFIX-base/-live/-end.heapsnapshot are written after the warm-up, with
 * the calls of phase 1 live, and after phase 2 (open them in Chrome DevTools, or compare two with
 * `npx tsx bench/support/heap-diff.ts A B`: what grew, by constructor).
 *
 *   npm run bench:memory
 *   npm run bench:memory -- --live 2000 --cps 200 --total 10000 --rate 300
 */
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config/config.js';
import { startApp } from '../src/app.js';
import { createChargingRedis, waitReady } from '../src/charging/redis.js';
import { outboxStats, withOutboxCommands } from '../src/outbox/stream.js';
import { createLogger } from '../src/util/logger.js';
import { createTestDb } from '../test/helpers/pg.js';
import { freePort } from '../test/helpers/ports.js';
import { TEST_REDIS_URL, deleteKeys, testPrefix } from '../test/helpers/redis.js';
import { killSipps, sipp, waitForListener, waitMs } from '../test/edge/support.js';
import { loadAvg } from './support/procfs.js';
import { CALLED, CALLER, SIPP_LOG_CAP, seedBench } from './support/product.js';


const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc (npm run bench:memory does)');
  process.exit(2);
}
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const live = Number(arg('live') ?? 10_000);
const liveCps = Number(arg('cps') ?? 200);
const total = Number(arg('total') ?? 100_000);
const rate = Number(arg('rate') ?? 300);
const snapshot = arg('snapshot');
if (![live, liveCps, total, rate].every((n) => Number.isInteger(n) && n >= 0)) {
  console.error('usage: memory.bench.ts [--live N] [--cps N] [--total N] [--rate N] [--snapshot FILE]');
  process.exit(2);
}
const GOAL_BYTES = 20 * 1024;
const MB = 2 ** 20;
/** the edge's longest transaction linger (64·T1 = 32 s) and a margin */
const LINGER_S = 35;

console.log(JSON.stringify({ bench: 'memory', loadAvg: loadAvg(), live, liveCps, total, rate }));
const db = await createTestDb();
const prefix = testPrefix();
const sipPort = await freePort();
const config = loadConfig({}, {
  'log.level': 'warn', 'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'demo.autoSeed': false,
  'sip.optionsPingSeconds': 0, 'http.host': '127.0.0.1', 'http.port': await freePort(), 'edge.sipHost': '127.0.0.1', 'edge.sipPort': sipPort,
  'edge.transports': ['udp'], 'drachtio.port': await freePort(),
  // the sipp carrier does not refresh the session timer: the live calls must not be ended by it (the growth
  // phase keeps the default, which also ends calls a starved sipp gave up on)
  ...(live > 0 ? { 'sip.sessionExpiresSeconds': Math.min(7200, Math.ceil(live / liveCps) + 180) } : {}),
});
const redis = createChargingRedis({ ...config.redis });
await waitReady(redis);
const outbox = withOutboxCommands(redis, redis.layout);
const carrierPort = await freePort();
await seedBench(db.pool, redis, carrierPort, 'udp');
const app = await startApp(config, createLogger(config.log.level));

async function heapAfterGc(): Promise<{ heap: number; rss: number }> {
  // several rounds: weak references and finalizers release more on the second
  for (let i = 0; i < 3; i++) {
    gc!();
    await waitMs(100);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

async function drained(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (app.activeCalls() === 0 && (await outboxStats(outbox)).backlog === 0) return;
    await waitMs(500);
  }
  throw new Error(`calls or outbox did not drain: ${app.activeCalls()} live, backlog ${(await outboxStats(outbox)).backlog}`);
}

/** n calls of holdMs at cps; resolves when the caller's sipp is done (with the callee's). */
function calls(n: number, cps: number, holdMs: number): { done: Promise<{ successful: number; failed: number }> } {
  const uas = sipp({ scenario: 'bench-uas-answer.xml', port: carrierPort, calls: n, timeoutS: Math.ceil(n / cps + holdMs / 1000) + 120, extra: ['-max_socket', '8000', ...SIPP_LOG_CAP] });
  const done = (async () => {
    await waitForListener(carrierPort, 'udp');
    const uac = sipp({
      scenario: 'call-uac-answer.xml', remote: `127.0.0.1:${sipPort}`, port: await freePort(), calls: n, rate: cps, service: CALLED,
      timeoutS: Math.ceil(n / cps + holdMs / 1000) + 120, extra: ['-key', 'caller', CALLER, '-d', String(holdMs), '-l', String(n + 100), '-max_socket', '8000', ...SIPP_LOG_CAP],
    });
    const [a] = await Promise.all([uac.done, uas.done]);
    return { successful: a.successful, failed: n - a.successful };
  })();
  return { done };
}

const summary: Record<string, unknown> = { bench: 'memory' };

// warm-up: every code path, cache and pool used once
await calls(500, 100, 200).done;
await drained();
await waitMs(LINGER_S * 1000); // and their transactions gone

const snap = (name: string) => {
  if (snapshot) console.log(JSON.stringify({ bench: 'memory', snapshot: writeHeapSnapshot(`${snapshot}-${name}.heapsnapshot`) }));
};
snap('base');

if (live > 0) {
  const base = await heapAfterGc();
  const rampS = live / liveCps;
  // every call still up well after the last one is placed and the transaction timers of the last ones ran out
  const holdMs = Math.round((rampS + LINGER_S + 45) * 1000);
  const run = calls(live, liveCps, holdMs);
  const t0 = Date.now();
  // wait until all are live (or the ramp is long over), then measure twice: at once (the edge still holds the
  // INVITE transactions of the calls placed in the last 32 s: 64·T1, RFC 3261/6026) and after those timers ran out
  while (Date.now() - t0 < (rampS + 30) * 1000 && app.activeCalls() < live) await waitMs(1000);
  await waitMs(2000);
  const measure = async (phase: string) => {
    const before = app.activeCalls();
    const at = await heapAfterGc();
    const n = Math.min(before, app.activeCalls());
    const perCall = n > 0 ? Math.round((at.heap - base.heap) / n) : null;
    const row = {
      bench: 'memory', phase, liveCalls: n, heapBeforeMb: +(base.heap / MB).toFixed(1), heapLiveMb: +(at.heap / MB).toFixed(1),
      retainedBytesPerLiveCall: perCall, rssBeforeMb: +(base.rss / MB).toFixed(1), rssLiveMb: +(at.rss / MB).toFixed(1),
      rssBytesPerLiveCall: n > 0 ? Math.round((at.rss - base.rss) / n) : null, goal: '< 20 KiB per live call', goalMet: perCall !== null && perCall < GOAL_BYTES, loadAvg: loadAvg(),
    };
    console.log(JSON.stringify(row));
    return row;
  };
  const ramp = await measure('live, at the end of the ramp');
  await waitMs(LINGER_S * 1000);
  const steady = await measure('live, transaction timers expired');
  snap('live');
  Object.assign(summary, {
    liveCalls: steady.liveCalls, retainedBytesPerLiveCall: steady.retainedBytesPerLiveCall, rssBytesPerLiveCall: steady.rssBytesPerLiveCall,
    retainedBytesPerLiveCallAtRampEnd: ramp.retainedBytesPerLiveCall, liveGoalMet: steady.goalMet,
  });
  const r = await run.done;
  await drained();
  const after = await heapAfterGc();
  console.log(JSON.stringify({ bench: 'memory', phase: 'live ended', successful: r.successful, failed: r.failed, heapAfterMb: +(after.heap / MB).toFixed(1), rssAfterMb: +(after.rss / MB).toFixed(1) }));
}

if (total > 0) {
  if (live > 0) await waitMs(LINGER_S * 1000);
  const start = await heapAfterGc();
  const chunk = Math.max(1, Math.ceil(total / 10));
  let done = 0;
  let failed = 0;
  const samples: number[] = [];
  while (done < total) {
    const n = Math.min(chunk, total - done);
    const r = await calls(n, rate, 500).done;
    failed += r.failed;
    done += n;
    await drained();
    const h = await heapAfterGc();
    samples.push(h.heap);
    console.log(JSON.stringify({ bench: 'memory', phase: 'growth', calls: done, failed, heapMb: +(h.heap / MB).toFixed(1), rssMb: +(h.rss / MB).toFixed(1), loadAvg: loadAvg() }));
  }
  // what the last calls' transactions hold goes after 64·T1: the end figure is taken after that
  await waitMs(LINGER_S * 1000);
  const last = await heapAfterGc();
  samples.push(last.heap);
  console.log(JSON.stringify({ bench: 'memory', phase: 'growth', calls: done, afterSeconds: LINGER_S, heapMb: +(last.heap / MB).toFixed(1), rssMb: +(last.rss / MB).toFixed(1) }));
  snap('end');
  const end = samples.at(-1)!;
  const growth = end - start.heap;
  const row = {
    bench: 'memory', phase: 'growth summary', calls: total, failed, heapStartMb: +(start.heap / MB).toFixed(1), heapEndMb: +(end / MB).toFixed(1),
    growthBytes: growth, growthBytesPerCall: +(growth / total).toFixed(1),
    // no retained growth: what is left after 100,000 calls is within 1 MB (GC noise, JIT code) of the start
    goal: 'no retained growth (end − start < 1 MB after GC)', goalMet: growth < MB,
  };
  console.log(JSON.stringify(row));
  Object.assign(summary, { growthCalls: total, growthBytes: growth, growthBytesPerCall: row.growthBytesPerCall, growthGoalMet: row.goalMet });
}

killSipps();
await app.shutdown('bench done');
redis.disconnect();
await deleteKeys(TEST_REDIS_URL, prefix);
await db.drop();
console.log(`\n${JSON.stringify({ ...summary, loadAvgEnd: loadAvg() })}`);
process.exit(0);
