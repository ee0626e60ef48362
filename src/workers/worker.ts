/**
 * A call-control worker thread: one app instance (startApp in worker role) taking calls from the primary's
 * embedded edge as a drachtio-srf app. Answers the primary's readiness and metrics requests; drains on `shutdown`
 * and ends with exit code 0 (1 when the start or the drain failed).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startApp, type RunningApp } from '../app.js';
import { registry } from '../observability/metrics.js';
import { createLogger, flushLogger, serviceDestination } from '../util/logger.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);
// a worker thread's process.stdout is relayed by the main thread: write to fd 1 directly (pretty when it is a terminal)
const logger = createLogger(init.config.log.level, 'softswitch', serviceDestination(init.tty), init.tty).child({ worker: init.index });

let app: RunningApp;
try {
  app = await startApp(init.config, logger, { edge: init.edge, onMediaHosts: (hosts) => post({ type: 'media-hosts', hosts: [...hosts] }) });
} catch (err) {
  logger.fatal({ err }, 'worker start-up failed');
  post({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  await flushLogger(logger);
  process.exit(1); // ends this thread only
}
post({ type: 'started', instanceId: app.instanceId });

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'readiness':
      void app.readiness().then((readiness) => post({ type: 'reply', id: m.id, readiness }));
      break;
    case 'metrics':
      void registry.getMetricsAsJSON().then((metrics) => post({ type: 'reply', id: m.id, metrics }));
      break;
    case 'shutdown':
      void app.shutdown(m.reason).then(
        async () => {
          post({ type: 'stopped' });
          await flushLogger(logger);
          process.exit(0);
        },
        async (err: unknown) => {
          logger.error({ err }, 'worker shutdown failed');
          await flushLogger(logger);
          process.exit(1);
        },
      );
      break;
  }
});
