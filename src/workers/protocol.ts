/**
 * Messages between the primary thread (embedded edge, HTTP API, jobs) and its call-control worker threads.
 * Requests carry an id; the worker answers each with a `reply` of the same id.
 */
import type { Config } from '../config/config.js';
import type { ReadinessReport } from '../observability/readiness.js';
import type { DrachtioTarget } from '../sip/connect.js';
import type { Registry } from 'prom-client';

/** One registry's metrics as getMetricsAsJSON() gives them (structured-clone safe). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** workerData of a worker thread. */
export interface WorkerInit {
  index: number;
  config: Config;
  /** the primary's embedded edge (control port on 127.0.0.1, the secret made at this start) */
  edge: DrachtioTarget;
  /** the process's stdout is a terminal (pretty logs) */
  tty: boolean;
}

export type ToWorker =
  | { type: 'readiness'; id: number }
  | { type: 'metrics'; id: number }
  | { type: 'shutdown'; reason: string };

export type FromWorker =
  | { type: 'started'; instanceId: string }
  | { type: 'failed'; error: string }
  | { type: 'media-hosts'; hosts: string[] }
  | { type: 'reply'; id: number; readiness?: ReadinessReport; metrics?: MetricsJson }
  | { type: 'stopped' };
