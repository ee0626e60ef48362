/**
 * Scale-out benchmark: the highest CPS of answered, charged calls that ONE app instance sustains, then TWO instances
 * side by side, each with its own SIP server (a real drachtio-server 0.9.4 from ../shared when present, else each
 * instance's embedded edge), sharing one Redis and one PostgreSQL (the topology of docs/scaling.md). The instances
 * are separate processes started as `npm run dev` starts the product (src/main.ts); the offered load is split evenly
 * between them. Every call is a full call: caller ID → tenant, limits, rating, authorize, B leg to a sipp carrier,
 * answer, 0.5 s of talk, BYE, settle, CDR and ledger through the outbox.
 *
 * A step passes when < 0.1 % of its calls failed and the run was not stretched (≤ STEP·1.05 + 2 s). Prints one JSON
 * line per step, a table, and the ratio two/one with the machine's load average before and after: on a shared
 * machine the absolute figures mean little, the ratio measured in the same run is the figure.
 *
 *   npm run bench:instances                          # steps 20,40,60,80,100,130,160,200,250,300 × 10 s
 *   npm run bench:instances -- --step 5 --cps 20,40  # quick run
 */
import { cpus, loadavg } from 'node:os';
import { waitReady } from '../src/charging/redis.js';
import { startAppProcess, type AppProcess } from '../test/helpers/app-process.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../test/helpers/drachtio-server.js';
import { createTestDb } from '../test/helpers/pg.js';
import { freePort } from '../test/helpers/ports.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../test/helpers/redis.js';
import { seedTenant } from '../test/helpers/tenants.js';
import { killSipps, sipp, waitForListener, waitMs } from '../test/edge/support.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const stepS = Number(arg('step') ?? 10);
const steps = (arg('cps') ?? '20,40,60,80,100,130,160,200,250,300').split(',').map(Number);
if (!Number.isFinite(stepS) || stepS <= 0 || steps.some((c) => !Number.isInteger(c) || c <= 1)) {
  console.error('usage: instances.bench.ts [--step SECONDS] [--cps N,N,...]');
  process.exit(2);
}
const CALLER = '+8613900002222';
const HOLD_MS = 500;

const db = await createTestDb();
const prefix = testPrefix();
const redis = testChargingRedis(prefix);
await waitReady(redis);
const carrierPort = await freePort();
await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-bench', '127.0.0.1')`);
await db.pool.query(`insert into carrier_gateways (name, host, port) values ('carrier', '127.0.0.1', $1)`, [carrierPort]);
await seedTenant(db.pool, redis, { code: 'bench', number: CALLER, balanceFen: 10n ** 12n, pricePerMinute: '0.06', maxConcurrent: 100_000, maxCps: 100_000 });
const realServer = drachtioServerMissing() === null;

interface Instance { app: AppProcess; sipPort: number; server: DrachtioServer | null }

async function startInstance(): Promise<Instance> {
  const env: Record<string, string> = {
    DATABASE_URL: db.url, DATABASE_POOL_SIZE: '10', REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
    DEMO_AUTO_SEED: 'false', SCHEDULER_ENABLED: 'false', MAINTENANCE_INTERVAL_SECONDS: '3600', SIP_OPTIONS_PING_SECONDS: '0', LOG_LEVEL: 'warn',
    NODE_OPTIONS: '--max-semi-space-size=64',
  };
  if (realServer) {
    const server = await startDrachtioServer({ transports: ['udp'] });
    const app = await startAppProcess({ ...env, DRACHTIO_SERVERS: `127.0.0.1:${server.controlPort}`, DRACHTIO_SECRET: server.secret });
    return { app, sipPort: server.sipPort, server };
  }
  const sipPort = await freePort();
  const app = await startAppProcess({ ...env, SIP_PORT: String(sipPort), SIP_TRANSPORTS: 'udp', DRACHTIO_PORT: String(await freePort()) });
  return { app, sipPort, server: null };
}

interface Row { instances: number; cps: number; achievedCps: number; calls: number; successful: number; failed: number; failedPct: number; passed: boolean }

/** Step up the offered CPS over `instances` until a step fails; the highest passing step is the figure. */
async function run(instances: Instance[]): Promise<{ rows: Row[]; best: number }> {
  const rows: Row[] = [];
  let best = 0;
  for (const cps of steps) {
    const share = Math.floor(cps / instances.length);
    const calls = share * stepS;
    const uas = sipp({ scenario: 'call-uas-answer.xml', port: carrierPort, calls: calls * instances.length, timeoutS: stepS + 60, extra: ['-max_socket', '4000'] });
    await waitForListener(carrierPort, 'udp');
    const t0 = process.hrtime.bigint();
    const uacs = await Promise.all(instances.map(async (i) => sipp({
      scenario: 'call-uac-answer.xml', remote: `127.0.0.1:${i.sipPort}`, port: await freePort(), calls, rate: share, service: '13800138000',
      timeoutS: stepS + 60, extra: ['-key', 'caller', CALLER, '-d', String(HOLD_MS), '-l', String(share * 10), '-max_socket', '4000'],
    }).done));
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    await uas.done;
    const total = calls * instances.length;
    const successful = uacs.reduce((a, r) => a + r.successful, 0);
    const failed = total - successful;
    const row: Row = {
      instances: instances.length, cps: share * instances.length, achievedCps: Number((total / wallS).toFixed(1)), calls: total, successful, failed,
      failedPct: Number(((100 * failed) / total).toFixed(3)), passed: failed / total < 0.001 && wallS <= stepS * 1.05 + 2,
    };
    rows.push(row);
    console.log(JSON.stringify({ bench: 'instances', ...row }));
    if (!row.passed) break;
    best = row.cps;
    await waitMs(2000);
  }
  return { rows, best };
}

const load0 = loadavg();
const results: { rows: Row[]; best: number }[] = [];
for (const n of [1, 2]) {
  const instances: Instance[] = [];
  for (let i = 0; i < n; i++) instances.push(await startInstance());
  results.push(await run(instances));
  killSipps();
  for (const i of instances) {
    await i.app.stop();
    await i.server?.stop();
  }
}
const load1 = loadavg();
await redis.quit();
await deleteKeys(TEST_REDIS_URL, prefix);
await db.drop();

console.log('\n instances | CPS offered | achieved | calls  | ok     | failed % | pass');
for (const r of results.flatMap((x) => x.rows)) {
  console.log(`${String(r.instances).padStart(10)} | ${String(r.cps).padEnd(11)} | ${String(r.achievedCps).padEnd(8)} | ${String(r.calls).padEnd(6)} | ${String(r.successful).padEnd(6)} | ${String(r.failedPct).padEnd(8)} | ${r.passed ? 'yes' : 'NO'}`);
}
const one = results[0]!;
const two = results[1]!;
console.log(`\n${JSON.stringify({
  bench: 'instances', sipServer: realServer ? 'drachtio-server 0.9.4' : 'embedded edge', stepSeconds: stepS, cores: cpus().length,
  oneInstanceCps: one.best, twoInstancesCps: two.best, ratio: one.best > 0 ? Number((two.best / one.best).toFixed(2)) : null,
  loadavgBefore: load0.map((x) => Number(x.toFixed(2))), loadavgAfter: load1.map((x) => Number(x.toFixed(2))),
})}`);
process.exit(0);
