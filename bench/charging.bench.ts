/**
 * Charging benchmark: authorize + settle cycles per second and per-cycle latency (p50/p99) at concurrency 1, 16 and
 * 256 against the real Redis and PostgreSQL of this machine; authorize latency at a paced 500 authorizations/s; and
 * the ceiling, `redis-benchmark -n 100000 -c 50 EVALSHA <sha of "return 1"> 0`, with the ratio. JSON lines, then a
 * table. All cycles hit ONE tenant (the worst case: every script contends on the same balance keys).
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/util/logger.js';
import { createChargingEngine } from '../src/charging/engine.js';
import { createChargingRedis, waitReady } from '../src/charging/redis.js';
import { createTestDb } from '../test/helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testPrefix } from '../test/helpers/redis.js';
import { createBucket, createPlan, createTenant } from '../test/charging/fixtures.js';
import { ManualClock } from '../test/charging/manual-clock.js';

const rows: Record<string, unknown>[] = [];
// goals (docs/performance.md; printed, never asserted): scripts/s ≥ 0.6 of the trivial-EVALSHA ceiling, authorize p99 ≤ 2 ms at 500/s
const GOAL_RATIO = 0.6;
const GOAL_P99_MS = 2;
const load0 = loadavg().map((x) => +x.toFixed(2));
function emit(row: Record<string, unknown>): void {
  rows.push(row);
  console.log(JSON.stringify(row));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const db = await createTestDb();
const prefix = testPrefix();
const redis = createChargingRedis({ ...loadConfig({}).redis, url: TEST_REDIS_URL, keyPrefix: prefix });
await waitReady(redis);
const clock = new ManualClock(Date.now()); // never advanced: no slice timers fire during the bench
const plan = await createPlan(db.pool, 'bench', [{ prefix: '86', price: '0.1' }]);
const tenant = await createTenant(db.pool, 'bench', plan);
await createBucket(db.pool, tenant, 'paid', 1_000_000_000_000n);
const engine = createChargingEngine({
  redis, pool: db.pool, config: loadConfig({}, { 'log.level': 'silent' }), logger: createLogger('silent'), instanceId: 'bench', clock, sweepIntervalMs: 0,
});
let seq = 0;

async function cycle(): Promise<void> {
  const callId = `b${seq++}`;
  const at = clock.now();
  const a = await engine.authorize({ callId, tenantId: tenant, calledNumber: '8613800138000', at, failurePolicy: 'terminate' });
  if (!a.ok) throw new Error(`bench authorize refused: ${a.reason} ${a.detail}`);
  await engine.finish({
    callId, aCallId: callId, bCallId: callId, tenantId: tenant, caller: '+8657100000000', callee: '8613800138000', ingressTrunk: 'bench',
    gateway: 'bench', inviteAt: at, ringAt: null, answerAt: at, endAt: at + 30_000, sipStatus: 200, result: 'answered', rejectReason: null,
    disconnectSide: 'caller', disconnectReason: 'caller BYE',
  });
}

await Promise.all(Array.from({ length: 200 }, cycle)); // warm-up: scripts loaded, deck and tenant cached

for (const [concurrency, total] of [[1, 3000], [16, 10_000], [256, 20_000]] as const) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) {
      const s = performance.now();
      await cycle();
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  emit({ bench: 'authorize+settle', concurrency, cycles: total, cyclesPerSec: Math.round(total / secs), p50Ms: +pct(lat, 50).toFixed(3), p99Ms: +pct(lat, 99).toFixed(3) });
}

// paced: 500 authorizations/s for 4 s, latency of authorize alone
{
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const rate = 500;
  const t0 = performance.now();
  for (let i = 0; i < rate * 4; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push((async () => {
      const callId = `p${seq++}`;
      const s = performance.now();
      const a = await engine.authorize({ callId, tenantId: tenant, calledNumber: '8613800138000', at: clock.now(), failurePolicy: 'terminate' });
      lat.push(performance.now() - s);
      if (a.ok) await engine.finish({
        callId, aCallId: callId, bCallId: null, tenantId: tenant, caller: '', callee: '8613800138000', ingressTrunk: null, gateway: null,
        inviteAt: clock.now(), ringAt: null, answerAt: null, endAt: clock.now(), sipStatus: 487, result: 'canceled', rejectReason: null,
        disconnectSide: 'caller', disconnectReason: 'cancel',
      });
    })());
  }
  await Promise.all(pending);
  lat.sort((a, b) => a - b);
  emit({ bench: 'authorize@500/s', authorizations: lat.length, p50Ms: +pct(lat, 50).toFixed(3), p99Ms: +pct(lat, 99).toFixed(3), goalP99Ms: GOAL_P99_MS });
}

// ceiling: a trivial script through redis-benchmark on the same server
{
  const u = new URL(TEST_REDIS_URL);
  const plain = new Redis(TEST_REDIS_URL);
  const sha = (await plain.script('LOAD', 'return 1')) as string;
  await plain.quit();
  const out = execFileSync('redis-benchmark', ['-h', u.hostname, '-p', u.port || '6379', '-n', '100000', '-c', '50', '-q', 'EVALSHA', sha, '0'], { encoding: 'utf8' });
  const m = /([\d.]+) requests per second/.exec(out);
  const ceiling = m ? Number(m[1]) : NaN;
  const best = Math.max(...rows.filter((r) => r.bench === 'authorize+settle').map((r) => r.cyclesPerSec as number));
  // a cycle is two scripts (authorize + settle): compare scripts/s with the trivial-script ceiling
  emit({ bench: 'ceiling', tool: 'redis-benchmark -n 100000 -c 50 EVALSHA "return 1" 0', evalshaPerSec: ceiling, bestCyclesPerSec: best,
    scriptsPerSec: best * 2, ratioScripts: +((best * 2) / ceiling).toFixed(3), ratioCycles: +(best / ceiling).toFixed(3), goalRatio: GOAL_RATIO });
}

console.log('\n| bench | concurrency | cycles/s | p50 ms | p99 ms |\n|---|---|---|---|---|');
for (const r of rows) {
  if (r.bench === 'authorize+settle') console.log(`| authorize+settle | ${r.concurrency} | ${r.cyclesPerSec} | ${r.p50Ms} | ${r.p99Ms} |`);
  if (r.bench === 'authorize@500/s') console.log(`| authorize alone, paced 500/s | - | - | ${r.p50Ms} | ${r.p99Ms} |`);
  if (r.bench === 'ceiling') console.log(`| redis-benchmark EVALSHA ceiling | 50 | ${r.evalshaPerSec} scripts/s | ratio (2 scripts/cycle): ${r.ratioScripts} | cycles/ceiling: ${r.ratioCycles} |`);
}

const ceilingRow = rows.find((r) => r.bench === 'ceiling')!;
const pacedRow = rows.find((r) => r.bench === 'authorize@500/s')!;
const verdict = (ok: boolean, v: unknown) => `${ok ? 'met' : 'NOT met'} (${String(v)})`;
console.log(`\n${JSON.stringify({
  bench: 'charging',
  goals: {
    [`authorize+settle scripts/s >= ${GOAL_RATIO} of the EVALSHA ceiling`]: verdict((ceilingRow.ratioScripts as number) >= GOAL_RATIO, ceilingRow.ratioScripts),
    [`authorize p99 <= ${GOAL_P99_MS} ms at 500/s`]: verdict((pacedRow.p99Ms as number) <= GOAL_P99_MS, `${String(pacedRow.p99Ms)} ms`),
  },
  loadAvgStart: load0, loadAvgEnd: loadavg().map((x) => +x.toFixed(2)),
})}`);

await engine.close();
redis.disconnect();
await deleteKeys(TEST_REDIS_URL, prefix);
await db.drop();
