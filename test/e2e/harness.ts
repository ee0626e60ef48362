/**
 * End-to-end harness of the SIP app: a fresh test database, a Redis key prefix, a SIP server (the embedded edge, or a
 * real drachtio-server with SIP_TEST_TARGET=drachtio: sip-target.ts), the charging engine, the outbox consumer,
 * drachtio-srf connected to the server and createSipApp on top, all real. Call cases
 * seed a tenant (ledger top-up → Redis cold load), point a gateway at a sipp UAS (the "carrier"), place a call
 * with a sipp UAC (the "call center") and read the CDR and ledger rows once the outbox has drained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { doorOptions, pgSources } from '../../src/edge/door.js';
import type { SourceAllowList } from '../../src/edge/sources.js';
import { createChargingRedis, waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import { subscribeTenantControl } from '../../src/charging/tenant-sync.js';
import { createOutboxConsumer, type OutboxConsumer } from '../../src/outbox/consumer.js';
import { connectSrf } from '../../src/sip/connect.js';
import { createSipApp, type SipApp } from '../../src/sip/app.js';
import { createDirectory } from '../../src/sip/directory.js';
import { startMedia, type Media } from '../../src/media/index.js';
import { createOutageRecorder } from '../../src/outages/recorder.js';
import type { TypedSrf } from '../../src/sip/srf-types.js';
import { projectPath } from '../../src/util/paths.js';
import { seedTenant, type TenantSeed } from '../helpers/tenants.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import type { Edge } from '../../src/edge/index.js';
import { startSipTarget, type SipTarget } from './sip-target.js';
import { runCliIn, type CliRun } from '../helpers/cli.js';
import { eventually } from '../helpers/poll.js';
import { waitForListener } from '../edge/support.js';
const SECRET = 'sip-e2e-secret';
export const logger = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });

export interface CdrRow {
  call_id: string;
  tenant_id: bigint | null;
  a_call_id: string;
  b_call_id: string | null;
  caller: string;
  callee: string;
  ingress_trunk: string | null;
  gateway: string | null;
  invite_at: Date;
  ring_at: Date | null;
  answer_at: Date | null;
  end_at: Date;
  billable_seconds: number;
  duration_ms: bigint;
  charge_fen: bigint;
  sip_status: number;
  result: string;
  reject_reason: string | null;
  disconnect_side: string | null;
  disconnect_reason: string | null;
  price_per_minute: string | null;
}

export interface Harness {
  db: TestDb;
  redis: ChargingRedis;
  config: Config;
  app: SipApp;
  charging: Engine;
  srf: TypedSrf;
  /** The SIP server under test: sipp calls go to target.sipPort. */
  target: SipTarget;
  /** The embedded edge, for tests about the edge itself (throws when the target is drachtio-server). */
  readonly edge: Edge;
  /** The edge's source allow-list (trunks + gateways from the test database); tests may add a group. */
  sources: SourceAllowList;
  /** announcements, when the overrides name media servers (media.servers) */
  media: Media | null;
  /** A tenant holding `number` (approved), a rate plan with `pricePerMinute` for prefix 86, and a paid top-up. */
  tenant(o: TenantSeed): Promise<string>;
  /** SIP transport of every sipp and gateway of this harness (startHarness's `transport`). */
  transport: SipTransport;
  /** Replace the carrier gateways; each points at a local port where a sipp UAS listens (over `transport`). */
  gateways(list: { name: string; port: number; priority?: number; weight?: number }[]): Promise<void>;
  /** Start a carrier UAS (scenario under test/scenarios, -key status for reject scenarios). */
  carrier(scenario: string, port: number, keys?: Record<string, string>, calls?: number): Promise<{ done: Promise<SippResult> }>;
  /** Place calls from the call center (caller = number as the trunk sends it; from = source IP, default the trunk 127.0.0.1). */
  call(scenario: string, o: { caller: string; callee: string; calls?: number; holdMs?: number; keys?: Record<string, string>; from?: string; sippArgs?: string[] }): Promise<SippResult>;
  /** CDRs of a tenant (or with tenant null) once `count` are written; waits for the outbox. */
  cdrs(where: { tenantId?: string | null; caller?: string }, count: number): Promise<CdrRow[]>;
  ledgerBalance(tenantId: string): Promise<bigint>;
  callCharges(tenantId: string): Promise<bigint>;
  /** The real `softswitch` CLI (in-process runCli) on this harness's database and Redis prefix. */
  cli(args: string[]): Promise<CliRun>;
  close(): Promise<void>;
}

/** A copy of a scenario template with placeholders replaced (sipp takes no keywords in attributes such as response=). */
export function scenarioFor(template: string, values: Record<string, string | number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sip-scn-'));
  let text = readFileSync(projectPath('test/scenarios', template), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(k, String(v));
  const file = join(dir, template);
  writeFileSync(file, text);
  return file;
}

export interface SippResult { code: number | null; successful: number; failed: number; errors: string }

export type SipTransport = 'udp' | 'tcp';

const running = new Set<ChildProcess>();

/** Kill every sipp this test file started. */
export function killSipps(): void {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
}

/** Run sipp to completion (bounded by -timeout) and read its final statistics. */
export function runSipp(scenario: string, args: string[], localIp = '127.0.0.1', timeoutSeconds = 30, transport: SipTransport = 'udp'): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sip-e2e-'));
  const stat = join(dir, 'stat.csv');
  const err = join(dir, 'err.log');
  const file = isAbsolute(scenario) ? scenario : projectPath('test/scenarios', scenario);
  const proc = spawn('sipp', [
    ...args, '-sf', file, '-i', localIp, '-t', transport === 'tcp' ? 't1' : 'u1', '-timeout', `${timeoutSeconds}s`, '-timeout_error',
    '-trace_stat', '-stf', stat, '-fd', '1', '-trace_err', '-error_file', err, '-nostdin',
    ...(process.env.SIP_TEST_TRACE ? ['-trace_msg'] : []), // keeps the message trace in the printed directory
  ], { cwd: dir, stdio: 'ignore' });
  if (process.env.SIP_TEST_TRACE) console.log(`sipp ${scenario}: ${dir}`);
  running.add(proc);
  return new Promise((resolve) => {
    proc.on('exit', (code) => {
      running.delete(proc);
      let successful = 0;
      let failed = 0;
      if (existsSync(stat)) {
        const lines = readFileSync(stat, 'utf8').trim().split('\n');
        const head = lines[0]!.split(';');
        const last = lines[lines.length - 1]!.split(';');
        successful = Number(last[head.indexOf('SuccessfulCall(C)')] ?? 0);
        failed = Number(last[head.indexOf('FailedCall(C)')] ?? 0);
      }
      const errors = existsSync(err) ? readFileSync(err, 'utf8') : '';
      if (!process.env.SIP_TEST_TRACE) rmSync(dir, { recursive: true, force: true });
      resolve({ code, successful, failed, errors });
    });
  });
}

/** `transport`: what the call center's and the carriers' sipps speak (the SIP server listens on both for tcp). */
export async function startHarness(overrides: Record<string, unknown> = {}, opts: { transport?: SipTransport } = {}): Promise<Harness> {
  const transport = opts.transport ?? 'udp';
  const transports: SipTransport[] = transport === 'tcp' ? ['udp', 'tcp'] : ['udp'];
  const db = await createTestDb();
  const prefix = testPrefix();
  // the app never reads the SIP server's ports from config: the target binds its own and srf connects to them
  const config = loadConfig({}, {
    'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'drachtio.host': '127.0.0.1',
    'drachtio.secret': SECRET, 'edge.transports': transports,
    'sip.optionsPingSeconds': 0, 'sip.gatewayTimeoutSeconds': 3, 'log.level': 'silent', ...overrides,
  });
  const { sources, refresh } = await pgSources(db.pool, config, logger);
  const target = await startSipTarget(SECRET, logger, { sources, ...doorOptions(config), transports: config.edge.transports });
  const redis = createChargingRedis({ ...config.redis, keyPrefix: prefix });
  await waitReady(redis);
  const charging = createChargingEngine({ redis, pool: db.pool, config, logger, instanceId: 'e2e', sweepIntervalMs: 0 });
  const outbox: OutboxConsumer = createOutboxConsumer({ redis, pool: db.pool, logger, instanceId: 'e2e-outbox', options: { blockMs: 100 } });
  outbox.start();
  const srf: TypedSrf = await connectSrf({ host: '127.0.0.1', port: target.controlPort, secret: target.secret }, logger);
  const media = startMedia(srf, config, logger, { sources });
  const outageLog = createOutageRecorder({ pool: db.pool, logger, instanceId: 'e2e' });
  const app = createSipApp({
    srf, config, logger, pool: db.pool, redis, charging, instanceId: 'e2e', media, outageLog,
    directory: createDirectory(db.pool, { ttlMs: 0 }), // tests change rows between calls
    subscribeControl: (h) => subscribeTenantControl(redis, h),
  });
  await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-test', '127.0.0.1')`);
  await refresh.reload(); // the edge knows the trunk before the first call (NOTIFY would be a few ms later)

  const h: Harness = {
    db, redis, config, app, charging, srf, target, sources, media, transport,
    get edge(): Edge {
      if (!target.edge) throw new Error('this test needs the embedded edge (SIP_TEST_TARGET=edge)');
      return target.edge;
    },

    tenant: (o) => seedTenant(db.pool, redis, o),

    async gateways(list) {
      await db.pool.query('delete from carrier_gateways');
      for (const g of list) {
        await db.pool.query(`insert into carrier_gateways (name, host, port, transport, priority, weight) values ($1, '127.0.0.1', $2, $3, $4, $5)`,
          [g.name, g.port, transport, g.priority ?? 10, g.weight ?? 100]);
      }
      await refresh.reload();
    },

    async carrier(scenario, port, keys = {}, calls = 1) {
      const done = runSipp(scenario, ['-p', String(port), '-m', String(calls), ...Object.entries(keys).flatMap(([k, v]) => ['-key', k, v])], undefined, undefined, transport);
      await waitForListener(port, transport);
      return { done };
    },

    async call(scenario, o) {
      return runSipp(scenario, [
        `127.0.0.1:${target.sipPort}`, '-p', String(await freePort()), '-m', String(o.calls ?? 1), '-r', '10', '-s', o.callee,
        '-key', 'caller', o.caller, '-d', String(o.holdMs ?? 1000), ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
        ...(o.sippArgs ?? []),
      ], o.from, undefined, transport);
    },

    async cdrs(where, count) {
      const cond: string[] = [];
      const args: unknown[] = [];
      if (where.tenantId === null) cond.push('tenant_id is null');
      else if (where.tenantId !== undefined) cond.push(`tenant_id = $${args.push(where.tenantId)}`);
      if (where.caller !== undefined) cond.push(`caller = $${args.push(where.caller)}`);
      const sql = `select * from cdrs ${cond.length ? 'where ' + cond.join(' and ') : ''} order by invite_at, call_id`;
      return eventually(`${count} CDR(s)`, async () => {
        const r = await db.pool.query<CdrRow>(sql, args);
        return r.rows.length >= count ? r.rows : null;
      });
    },

    async ledgerBalance(tenantId) {
      const r = await db.pool.query<{ s: bigint }>(
        `select coalesce(sum(credits_posted - debits_posted), 0)::int8 as s from ledger_accounts where tenant_id = $1 and kind = 'tenant_bucket'`, [tenantId]);
      return r.rows[0]!.s;
    },

    async callCharges(tenantId) {
      const r = await db.pool.query<{ s: bigint }>(`select coalesce(sum(amount_fen), 0)::int8 as s from ledger_transfers where tenant_id = $1 and kind = 'call_charge'`, [tenantId]);
      return r.rows[0]!.s;
    },

    cli: (args) => runCliIn(args, { DATABASE_URL: db.url, REDIS_URL: config.redis.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent' }),

    async close() {
      killSipps();
      await app.close();
      await media?.close();
      await outageLog.close();
      srf.disconnect();
      await charging.close();
      await outbox.stop();
      await refresh.stop();
      await target.close();
      await redis.quit().catch(() => undefined);
      await deleteKeys(config.redis.url, prefix).catch(() => undefined); // the test may have stopped its own Redis
      await db.drop();
    },
  };
  return h;
}
