/**
 * Outbox writer benchmark: events/s moved from the Redis outbox streams into a real PostgreSQL (CDR + ledger
 * transfers + guard row per event, exactly once). The streams are filled with realistic call-end events through the
 * real charging path (authorize + finish: settle.lua writes each call.settled event into its tenant's shard), across
 * several tenants so every shard has entries; then the real consumer (src/outbox/consumer.ts) drains them and is
 * timed. Baseline in the same run: the one-event-per-transaction writer (perEventTransactions, each event its own
 * transaction and XACK), then the batched writer at the configured batch size (and any --batch sizes given).
 * Checks after each drain that every event reached PostgreSQL exactly once (CDR count, ledger sum).
 *
 *   npm run bench:outbox                                  # 20,000 events batched, 3,000 one per transaction
 *   npm run bench:outbox -- --events 5000 --baseline-events 1000 --batch 50,500
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/util/logger.js';
import { createChargingEngine } from '../src/charging/engine.js';
import { createChargingRedis, waitReady } from '../src/charging/redis.js';
import { createOutboxConsumer, type OutboxConsumerOptions } from '../src/outbox/consumer.js';
import { createTestDb } from '../test/helpers/pg.js';
import { TEST_REDIS_URL, deleteKeys, testPrefix } from '../test/helpers/redis.js';
import { createBucket, createPlan, createTenant } from '../test/charging/fixtures.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const config = loadConfig({}, { 'log.level': 'silent' });
const events = Number(arg('events') ?? 20_000);
const baselineEvents = Number(arg('baseline-events') ?? 3000);
const batches = (arg('batch') ?? String(config.outbox.batchSize)).split(',').map(Number);
const TENANTS = 32;
if (![events, baselineEvents, ...batches].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: outbox.bench.ts [--events N] [--baseline-events N] [--batch N,N,...]');
  process.exit(2);
}
const GOAL = 3000;
const load = () => loadavg().map((x) => +x.toFixed(2));
console.log(JSON.stringify({ bench: 'outbox', loadAvgStart: load(), cores: (await import('node:os')).cpus().length }));

const db = await createTestDb({ poolSize: 10 });
const prefix = testPrefix();
const logger = createLogger('silent');
const redis = createChargingRedis({ ...config.redis, url: TEST_REDIS_URL, keyPrefix: prefix });
await waitReady(redis);
const plan = await createPlan(db.pool, 'bench', [{ prefix: '86', price: '0.1' }]);
const tenants: string[] = [];
for (let i = 0; i < TENANTS; i++) {
  const t = await createTenant(db.pool, `bench-${i}`, plan);
  await createBucket(db.pool, t, 'paid', 1_000_000_000_000n);
  tenants.push(t);
}
const engine = createChargingEngine({ redis, pool: db.pool, config, logger, instanceId: 'bench', sweepIntervalMs: 0 });
let seq = 0;

/** n answered 30 s calls through authorize + finish (settle.lua appends the call.settled outbox event). */
async function fill(n: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 128 }, async () => {
    while (next++ < n) {
      const i = seq++;
      const callId = `ob-${process.pid}-${i}`;
      const tenantId = tenants[i % TENANTS]!;
      const at = Date.now();
      const a = await engine.authorize({ callId, tenantId, calledNumber: '8613800138000', at, failurePolicy: 'terminate' });
      if (!a.ok) throw new Error(`bench authorize refused: ${a.reason} ${a.detail}`);
      await engine.finish({
        callId, aCallId: `a-${callId}@10.0.0.1`, bCallId: `b-${callId}`, tenantId, caller: '+861088880000', callee: '8613800138000',
        ingressTrunk: 'alibaba-1', gateway: 'carrier-1', inviteAt: at - 33_000, ringAt: at - 32_000, answerAt: at - 30_000, endAt: at,
        sipStatus: 200, result: 'answered', rejectReason: null, disconnectSide: 'caller', disconnectReason: 'caller BYE',
      });
    }
  }));
  await engine.idle();
  return n / ((performance.now() - t0) / 1000);
}

async function ledgerFigures(): Promise<{ cdrs: number; charged: bigint }> {
  const c = await db.pool.query<{ n: number }>('select count(*)::int as n from cdrs');
  const s = await db.pool.query<{ s: string | null }>(`select sum(amount_fen)::text as s from ledger_transfers where kind = 'call_charge'`);
  return { cdrs: c.rows[0]!.n, charged: BigInt(s.rows[0]!.s ?? '0') };
}

interface Row { writer: string; batchSize: number; events: number; seconds: number; eventsPerSec: number; fillCallsPerSec: number }
const rows: Row[] = [];

async function run(writer: string, n: number, options: OutboxConsumerOptions): Promise<Row> {
  const fillRate = await fill(n);
  const before = await ledgerFigures();
  const consumer = createOutboxConsumer({ redis, pool: db.pool, logger, instanceId: `bench-${writer}`, options: { housekeepingMs: 3_600_000, ...options } });
  const t0 = performance.now();
  let done = 0;
  for (let k = await consumer.drainOnce(); k > 0; k = await consumer.drainOnce()) done += k;
  const secs = (performance.now() - t0) / 1000;
  await consumer.stop();
  const after = await ledgerFigures();
  const backlog = (await consumer.stats().catch(() => null))?.backlog;
  if (done !== n || after.cdrs - before.cdrs !== n) throw new Error(`${writer}: drained ${done}, ${after.cdrs - before.cdrs} CDRs written, ${n} events filled (backlog ${backlog})`);
  const row: Row = { writer, batchSize: options.perEventTransactions ? 1 : options.batchSize!, events: n, seconds: +secs.toFixed(2), eventsPerSec: Math.round(n / secs), fillCallsPerSec: Math.round(fillRate) };
  rows.push(row);
  console.log(JSON.stringify({ bench: 'outbox', ...row, chargedFen: String(after.charged - before.charged), loadAvg: load() }));
  return row;
}

await fill(200); // warm-up: scripts loaded, deck, tenants and partitions cached
await createOutboxConsumer({ redis, pool: db.pool, logger, instanceId: 'warm', options: {} }).drainOnce();
const base = await run('one-per-transaction', baselineEvents, { perEventTransactions: true, batchSize: config.outbox.batchSize });
for (const b of batches) await run(`batched-${b}`, events, { batchSize: b });

console.log('\n| writer | batch | events | seconds | events/s | × baseline |\n|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.writer} | ${r.batchSize} | ${r.events} | ${r.seconds} | ${r.eventsPerSec} | ${(r.eventsPerSec / base.eventsPerSec).toFixed(1)} |`);
const def = rows.find((r) => r.writer === `batched-${config.outbox.batchSize}`) ?? rows[rows.length - 1]!;
console.log(`\n${JSON.stringify({
  bench: 'outbox', eventsPerSec: def.eventsPerSec, batchSize: def.batchSize, baselineEventsPerSec: base.eventsPerSec, ratio: +(def.eventsPerSec / base.eventsPerSec).toFixed(1),
  goal: `>= ${GOAL} events/s`, goalMet: def.eventsPerSec >= GOAL, loadAvgEnd: load(),
})}`);

await engine.close();
redis.disconnect();
await deleteKeys(TEST_REDIS_URL, prefix);
await db.drop();
process.exit(0);
