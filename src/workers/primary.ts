/**
 * `npm start` with sip.workers > 1 and the embedded edge: the SIP edge and the call-control app on different
 * cores. This (primary) thread runs the edge, the HTTP API (/metrics, /readyz), maintenance and the billing
 * scheduler; N worker threads (worker.ts) each run one call-control app instance connected to the edge as a
 * drachtio-srf app, with its own instance id, Redis leases, charging engine, outbox consumer, gateway OPTIONS
 * pinger and media pool. The edge hands each new INVITE to the workers in turn; a call stays on its worker.
 *
 * Shutdown drains every worker (each as a single-process instance drains) while the edge keeps serving their
 * dialogs, then closes the rest. A worker that dies on its own makes the whole instance drain and exit 1.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { prepareDatabase, seedIfEmpty, startEmbeddedEdge, startHttp, startJobs } from '../app.js';
import { createChargingRedis, waitReady, watchFailovers } from '../charging/redis.js';
import type { Config } from '../config/config.js';
import { createPool } from '../db/pool.js';
import { metrics, registry } from '../observability/metrics.js';
import { postgresProbe, redisProbe } from '../observability/probes.js';
import { Readiness, type ReadinessReport } from '../observability/readiness.js';
import type { Logger } from '../util/logger.js';
import { aggregateMetrics } from './aggregate.js';
import type { FromWorker, MetricsJson, ToWorker, WorkerInit } from './protocol.js';

/** worker.ts next to this file: .js once built; .ts under tsx (npm run dev, tests), whose loader a worker thread
 * does not inherit, so there a bootstrap registers it first. */
function newWorkerThread(init: WorkerInit): Worker {
  const options = { workerData: init, name: `call-control-${init.index}` };
  if (extname(fileURLToPath(import.meta.url)) === '.js') return new Worker(new URL('./worker.js', import.meta.url), options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then((t) => { t.register(); return import(${entry}); })`, { ...options, eval: true });
}

interface Handle {
  index: number;
  thread: Worker;
  instanceId: string;
  exited: Promise<number>;
  ask<K extends 'readiness' | 'metrics'>(type: K): Promise<K extends 'readiness' ? ReadinessReport : MetricsJson>;
  send(m: ToWorker): void;
}

interface SplitApp {
  instanceId: string;
  httpPort: number;
  sipPort: number;
  controlPort: number;
  /** the workers' app instance ids (leases, outbox consumers, scheduler lease holder is instanceId) */
  workerInstanceIds: string[];
  readiness(): Promise<ReadinessReport>;
  /** Drain every worker, then close the edge, HTTP, jobs and stores. Idempotent; rejects if a worker failed to drain. */
  shutdown(reason: string): Promise<void>;
  /** Called once when a worker ends on its own (not by shutdown); the instance then drains and should exit 1. */
  onWorkerLost(fn: (why: string) => void): void;
}

function spawnWorker(init: WorkerInit, log: Logger, onMessage: (m: FromWorker) => void): Promise<Handle> {
  const thread = newWorkerThread(init);
  let nextId = 1;
  const pending = new Map<number, (m: FromWorker & { type: 'reply' }) => void>();
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
  thread.on('error', (err) => log.error({ err, worker: init.index }, 'worker thread error'));
  return new Promise<Handle>((resolve, reject) => {
    const handle: Omit<Handle, 'instanceId'> = {
      index: init.index, thread, exited,
      ask: (type) => new Promise((res) => {
        const id = nextId++;
        pending.set(id, (r) => res((type === 'readiness' ? r.readiness : r.metrics) as never));
        thread.postMessage({ type, id } satisfies ToWorker);
      }),
      send: (m) => thread.postMessage(m),
    };
    thread.on('message', (m: FromWorker) => {
      if (m.type === 'reply') {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      } else if (m.type === 'started') resolve({ ...handle, instanceId: m.instanceId });
      else if (m.type === 'failed') reject(new Error(`worker ${init.index}: ${m.error}`));
      else onMessage(m);
    });
    void exited.then((code) => reject(new Error(`worker ${init.index} exited with code ${code} during start-up`)));
  });
}

export async function startPrimary(config: Config, logger: Logger, workerCount: number): Promise<SplitApp> {
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = logger.child({ instanceId, role: 'primary' });
  const readiness = new Readiness(config.health.probeTimeoutMs);
  const closers: { name: string; close: () => Promise<unknown> }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of [...closers].reverse()) {
      await c.close().catch((err: unknown) => log.warn({ err, part: c.name }, 'error while closing'));
    }
  };
  const workers: Handle[] = [];
  let stopping: Promise<void> | null = null;
  let workersStopped: Promise<number[]> | null = null;
  let lostHandler: (why: string) => void = () => undefined;

  try {
    const pool = createPool(config.postgres.url, config.postgres.poolSize);
    closers.push({ name: 'postgres', close: () => pool.end() });
    await prepareDatabase(pool, log);
    const redis = createChargingRedis(config.redis);
    closers.push({ name: 'redis', close: () => redis.quit() });
    await waitReady(redis);
    const unwatch = watchFailovers(redis, (f) => log.warn(f, 'Redis master changed (failover)'));
    closers.push({ name: 'redis-failover-watch', close: async () => unwatch() });
    await seedIfEmpty(config, pool, redis, log);

    const { edge, sources, target } = await startEmbeddedEdge(config, pool, log, closers);
    closers.push({ name: 'workers', close: () => stopWorkers('closing') });

    // every worker has its own media pool and reports its media servers' SIP addresses (the hosts at once, each
    // profile's address once connected): the allow-list's 'media' group is the union of the latest reports, so a
    // worker that has not connected yet cannot take away an address another worker's calls already use
    const mediaHosts = new Map<number, string[]>();
    let mediaGroup = '[]';
    const started = await Promise.allSettled(Array.from({ length: workerCount }, (_, i) => spawnWorker({ index: i + 1, config, edge: target, tty: process.stdout.isTTY === true }, log, (m) => {
      if (m.type === 'media-hosts') {
        mediaHosts.set(i + 1, m.hosts);
        const union = [...new Set([...mediaHosts.values()].flat())].sort();
        if (JSON.stringify(union) === mediaGroup) return;
        mediaGroup = JSON.stringify(union);
        const ignored = sources.set('media', union);
        log.info({ hosts: union }, 'media server addresses in the SIP source allow-list');
        if (ignored.length) log.warn({ ignored }, 'media server addresses not added to the SIP source allow-list (IPv4 addresses only)');
      }
    })));
    for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const w of workers) {
      void w.exited.then((code) => {
        if (stopping) return;
        log.error({ worker: w.index, code }, 'call-control worker ended on its own: draining the instance');
        lostHandler(`worker ${w.index} exited (${code})`);
      });
    }
    log.info({ workers: workers.map((w) => w.instanceId) }, 'call-control workers started');

    // one round of worker reports per /readyz or /metrics, shared by the probes below
    let round: { at: number; reports: Promise<(ReadinessReport | null)[]> } | null = null;
    const reports = (): Promise<(ReadinessReport | null)[]> => {
      if (!round || Date.now() - round.at > 50) {
        round = { at: Date.now(), reports: Promise.all(workers.map((w) => Promise.race([w.ask('readiness'), w.exited.then(() => null)]))) };
      }
      return round.reports;
    };
    const component = (name: string) => async (): Promise<boolean[]> => (await reports()).map((r) => r?.components[name] === true);
    // calls are taken while at least one worker is connected to the edge; details list each worker
    let lastDrachtio: Record<string, boolean> = {};
    readiness.addWithDetail('drachtio', async () => {
      const up = await component('drachtio')();
      lastDrachtio = Object.fromEntries(workers.map((w, i) => [`worker-${w.index}`, up[i]!]));
      return up.some(Boolean);
    }, () => lastDrachtio);
    readiness.add('redis', redisProbe(redis));
    readiness.add('postgres', postgresProbe(pool));
    // every worker's consumer: a stuck one leaves its pending events to the others only after claimIdleMs
    readiness.add('outbox', async () => (await component('outbox')()).every(Boolean));
    // optional components (the media servers: every worker has its own connection to each) are up when up on
    // every worker; details say which worker's connection is down
    const first = await workers[0]!.ask('readiness');
    for (const name of first.optional ?? []) {
      let last: Record<string, boolean> = {};
      readiness.addWithDetail(name, async () => {
        const up = await component(name)();
        last = Object.fromEntries(workers.map((w, i) => [`worker-${w.index}`, up[i]!]));
        return up.every(Boolean);
      }, () => last, { critical: false });
    }

    const metricsText = async (): Promise<string> => {
      const theirs = await Promise.all(workers.map((w) => Promise.race([w.ask('metrics'), w.exited.then(() => [] as MetricsJson)])));
      return aggregateMetrics(await registry.getMetricsAsJSON(), theirs).metrics();
    };
    const http = await startHttp(config, log, readiness, pool, redis, metricsText);
    closers.push({ name: 'http', close: () => http.close() });
    for (const j of startJobs(config, log, pool, redis, instanceId)) closers.push(j);

    const shutdown = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ reason, workers: workers.length, drainSeconds: config.shutdown.drainSeconds }, 'draining');
        readiness.setDraining(true);
        metrics.draining.set(1);
        const codes = await stopWorkers(reason);
        await closeAll();
        log.info('stopped');
        const bad = codes.filter((c) => c !== 0).length;
        if (bad) throw new Error(`${bad} worker(s) did not drain cleanly`);
      })();
      return stopping;
    };
    return {
      instanceId, httpPort: http.port, sipPort: edge.sipPort, controlPort: edge.controlPort,
      workerInstanceIds: workers.map((w) => w.instanceId),
      readiness: () => readiness.check(),
      shutdown,
      onWorkerLost: (fn) => (lostHandler = fn),
    };
  } catch (e) {
    stopping ??= Promise.resolve();
    await closeAll();
    throw e;
  }

  /** Each worker drains (its own deadline from drainSeconds) and exits; resolves with their exit codes. */
  function stopWorkers(reason: string): Promise<number[]> {
    workersStopped ??= (() => {
      for (const w of workers) w.send({ type: 'shutdown', reason });
      return Promise.all(workers.map((w) => w.exited));
    })();
    return workersStopped;
  }
}
