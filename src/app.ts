/**
 * Composition root: builds every part from the one config object, in dependency order, and tears them down in
 * reverse. main.ts runs it for `npm start`; end-to-end tests run it with overrides (ports 0, test DB, key prefix).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { configForLog, seedDemoOnStart, type Config } from './config/config.js';
import { createPool, type Pool } from './db/pool.js';
import { migrate } from './db/migrate.js';
import { createChargingRedis, waitReady, watchFailovers, type ChargingRedis } from './charging/redis.js';
import { createChargingEngine } from './charging/engine.js';
import { subscribeTenantControl } from './charging/tenant-sync.js';
import { createOutboxConsumer } from './outbox/consumer.js';
import { startEdge, type Edge } from './edge/index.js';
import { doorOptions, pgSources } from './edge/door.js';
import { connectSipServers, drachtioTargets } from './sip/servers.js';
import type { SourceAllowList } from './edge/sources.js';
import { createSipApp } from './sip/app.js';
import { startMedia } from './media/index.js';
import { createOutageRecorder } from './outages/recorder.js';
import { createHttpServer } from './api/http-server.js';
import { Readiness } from './observability/readiness.js';
import { postgresProbe, redisProbe } from './observability/probes.js';
import { metrics } from './observability/metrics.js';
import { seedDemo } from './demo/seed.js';
import { startMaintenance } from './jobs/maintenance.js';
import { importMissingYears } from './calendar/load.js';
import { ensureCdrPartitions } from './store/cdrs.js';
import { countTenants, numericCodeTenants } from './store/tenants.js';
import { createScheduler } from './jobs/scheduler.js';
import type { Logger } from './util/logger.js';
import type { DrachtioTarget } from './sip/connect.js';
import type { ReadinessReport } from './observability/readiness.js';

export interface RunningApp {
  instanceId: string;
  httpPort: number;
  sipPort: number | null; // embedded edge's SIP port; null with an external drachtio-server
  controlPort: number | null;
  /** Calls this instance is handling now (several instances in one process share the metrics registry). */
  activeCalls(): number;
  /** The readiness report behind /readyz (a worker's, asked by the primary: src/workers). */
  readiness(): Promise<ReadinessReport>;
  /** Stop taking calls, let live ones run up to drainSeconds, cut the rest, close everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
}

/**
 * A call-control worker thread (src/workers): calls come from the primary's embedded edge; the primary has run
 * the migrations and the demo seed and runs the edge, the HTTP API, maintenance and the scheduler, so none of
 * them start here. Each worker is an instance of its own (instance id, leases, outbox consumer, drain).
 */
interface WorkerRole {
  edge: DrachtioTarget;
  /** The media servers' SIP addresses, for the edge's source allow-list (held by the primary). */
  onMediaHosts(hosts: readonly string[]): void;
}

export async function startApp(config: Config, logger: Logger, worker: WorkerRole | null = null): Promise<RunningApp> {
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = logger.child({ instanceId });
  log.debug({ config: configForLog(config) }, 'configuration');
  const readiness = new Readiness(config.health.probeTimeoutMs);
  const closers: { name: string; close: () => Promise<unknown> }[] = [];
  // reverse order of start; one part failing to close does not keep the others open
  const closeAll = async (): Promise<void> => {
    for (const c of [...closers].reverse()) {
      await c.close().catch((err: unknown) => log.warn({ err, part: c.name }, 'error while closing'));
    }
  };

  try {
    const pool = createPool(config.postgres.url, config.postgres.poolSize);
    closers.push({ name: 'postgres', close: () => pool.end() });
    if (!worker) await prepareDatabase(pool, log);

    const redis = createChargingRedis(config.redis);
    closers.push({ name: 'redis', close: () => redis.quit() });
    await waitReady(redis);
    const unwatch = watchFailovers(redis, (f) => log.warn(f, 'Redis master changed (failover)'));
    closers.push({ name: 'redis-failover-watch', close: async () => unwatch() });

    if (!worker) await seedIfEmpty(config, pool, redis, log);

    const charging = createChargingEngine({ redis, pool, config, logger: log, instanceId });
    closers.push({ name: 'charging', close: () => charging.close() });
    const outbox = createOutboxConsumer({ redis, pool, logger: log, instanceId, options: { batchSize: config.outbox.batchSize } });
    outbox.start();
    closers.push({ name: 'outbox', close: () => outbox.stop() });

    let edge: Edge | null = null;
    let edgeSources: SourceAllowList | null = null;
    let targets = worker ? [worker.edge] : drachtioTargets(config);
    if (targets.length === 0) {
      const e = await startEmbeddedEdge(config, pool, log, closers);
      edge = e.edge;
      edgeSources = e.sources;
      targets = [e.target];
    }
    const servers = await connectSipServers(targets, log);
    closers.push({ name: 'srf', close: async () => servers.close() });

    const mediaSources = worker ? { set: (_group: string, hosts: readonly string[]) => (worker.onMediaHosts(hosts), []) } : edgeSources;
    const media = startMedia(servers, config, log, { sources: mediaSources });
    if (media) closers.push({ name: 'media', close: () => media.close() });
    const outageLog = createOutageRecorder({ pool, logger: log, instanceId });
    closers.push({ name: 'outage-log', close: () => outageLog.close() });
    const sip = createSipApp({
      servers, config, logger: log, pool, redis, charging, instanceId, media, outageLog,
      subscribeControl: (handler) => subscribeTenantControl(redis, handler),
    });
    closers.push({ name: 'sip', close: () => sip.close() });

    // ready while at least one drachtio server is connected; /readyz details.drachtio lists each one
    readiness.addWithDetail('drachtio', () => servers.list.some((x) => x.up), () => servers.status());
    readiness.add('redis', redisProbe(redis));
    readiness.add('postgres', postgresProbe(pool));
    readiness.add('outbox', () => outbox.alive());
    for (const [name, probe] of media?.pool.probes() ?? []) readiness.add(name, probe, { critical: false });

    let httpPort = 0;
    if (!worker) {
      const http = await startHttp(config, log, readiness, pool, redis);
      closers.push({ name: 'http', close: () => http.close() });
      httpPort = http.port;
      for (const j of startJobs(config, log, pool, redis, instanceId)) closers.push(j);
    }

    let stopping: Promise<void> | null = null;
    const shutdown = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        const deadline = Date.now() + config.shutdown.drainSeconds * 1000;
        log.info({ reason, activeCalls: sip.activeCalls(), drainSeconds: config.shutdown.drainSeconds }, 'draining');
        readiness.setDraining(true);
        metrics.draining.set(1);
        await sip.drain(deadline);
        // settle what the calls left, then let the outbox write it before the stores close
        await charging.idle();
        await closeAll();
        log.info('stopped');
      })();
      return stopping;
    };

    return {
      instanceId, httpPort, sipPort: edge?.sipPort ?? null, controlPort: edge?.controlPort ?? null,
      activeCalls: () => sip.activeCalls(), readiness: () => readiness.check(), shutdown,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Migrations, this quarter's CDR partitions, the bundled working-day calendar (years not imported yet). */
export async function prepareDatabase(pool: Pool, log: Logger): Promise<void> {
  const m = await migrate(pool);
  if (m.applied.length) log.info({ applied: m.applied }, 'migrations applied');
  await ensureCdrPartitions(pool);
  await importMissingYears(pool);
  await warnNumericTenantCodes(pool, log);
}

/**
 * Tenant codes made only of digits (from before they were refused) read like ids: a reference to such digits that
 * is also another tenant's id is refused as ambiguous. Say at start which codes those are and what to do.
 */
export async function warnNumericTenantCodes(pool: Pool, log: Logger): Promise<void> {
  const rows = await numericCodeTenants(pool);
  if (rows.length === 0) return;
  log.warn({ codes: rows.map((r) => ({ id: r.id.toString(), code: r.code })) },
    'tenant codes made only of digits: a reference to those digits is refused when it is also another tenant\'s id; name these tenants as #<id> (CLI --tenant \'#7\', API /v1/tenants/%237), and have API clients that use such a code move to #<id> (docs/security.md)');
}

/** The contract's demo tenant when the database has none (DEMO_AUTO_SEED: seedDemoOnStart). */
export async function seedIfEmpty(config: Config, pool: Pool, redis: ChargingRedis, log: Logger): Promise<void> {
  if (!seedDemoOnStart(config)) return;
  if ((await countTenants(pool)) === 0) {
    await seedDemo(pool, redis, { timeZone: config.service.timezone });
    log.info('database had no tenant: demo tenant seeded (contract sample order)');
  }
}

/** The HTTP API with /metrics, /healthz, /readyz; `metricsText` replaces this thread's registry (src/workers). */
export async function startHttp(
  config: Config, log: Logger, readiness: Readiness, pool: Pool, redis: ChargingRedis, metricsText?: () => Promise<string>,
): Promise<{ port: number; close: () => Promise<void> }> {
  const services = { config, pool, logger: log, redis: async () => ({ redis, error: null }), now: () => new Date() };
  const http = createHttpServer({ config, logger: log, readiness, services, ...(metricsText ? { metricsText } : {}) });
  const bound = await http.listen();
  log.info({ http: `${bound.host}:${bound.port}` }, 'HTTP API, /metrics, /healthz, /readyz listening');
  return { port: bound.port, close: () => http.close() };
}

/** Maintenance (drift gauges, low balances, notices) and the billing scheduler: once per instance (process). */
export function startJobs(config: Config, log: Logger, pool: Pool, redis: ChargingRedis, instanceId: string): { name: string; close: () => Promise<unknown> }[] {
  const out: { name: string; close: () => Promise<unknown> }[] = [];
  const maintenance = startMaintenance({ pool, redis, config, logger: log, intervalMs: config.jobs.intervalSeconds * 1000 });
  out.push({ name: 'maintenance', close: async () => maintenance.stop() });
  if (config.jobs.schedulerEnabled) {
    const scheduler = createScheduler({ deps: { config, pool, redis: async () => ({ redis, error: null }), logger: log, now: () => new Date() }, instanceId, tickMs: config.jobs.schedulerTickSeconds * 1000, logger: log });
    scheduler.start();
    out.push({ name: 'scheduler', close: () => scheduler.stop() });
  }
  return out;
}

/**
 * The embedded SIP edge with its PostgreSQL-fed source allow-list. App and edge share a secret made now, known to
 * no one else (config drachtio.secret is not used). Its closers go into `closers`.
 */
export async function startEmbeddedEdge(
  config: Config, pool: Pool, log: Logger, closers: { name: string; close: () => Promise<unknown> }[],
): Promise<{ edge: Edge; sources: SourceAllowList; target: DrachtioTarget }> {
  const secret = randomBytes(32).toString('hex');
  const { sources, refresh } = await pgSources(pool, config, log);
  closers.push({ name: 'sip-sources', close: () => refresh.stop() });
  const edge = await startEdge({
    sources, ...doorOptions(config),
    sipHost: config.edge.sipHost,
    sipPort: config.edge.sipPort,
    transports: config.edge.transports,
    controlHost: '127.0.0.1',
    controlPort: config.drachtio.port,
    secret,
    logger: log,
  });
  closers.push({ name: 'edge', close: () => edge.close() });
  log.info({ sipPort: edge.sipPort, controlPort: edge.controlPort }, 'embedded SIP edge started');
  return { edge, sources, target: { host: '127.0.0.1', port: edge.controlPort, secret } };
}
