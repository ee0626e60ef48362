/** `npm start`: build the config, start every part, drain on SIGTERM/SIGINT, exit 0. */
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from './config/config.js';
import { startApp } from './app.js';
import { drachtioTargets } from './sip/servers.js';
import { startPrimary } from './workers/primary.js';
import { createLogger, serviceDestination } from './util/logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`softswitch: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.log.level, 'softswitch', serviceDestination());
  // sip.workers (0 = one per core): the embedded edge in this thread, call control in worker threads
  // (src/workers); with one worker, or an external drachtio-server, everything runs in this one thread
  const workers = config.sip.workers === 0 ? availableParallelism() : config.sip.workers;
  const split = workers > 1 && drachtioTargets(config).length === 0;
  if (workers > 1 && !split) logger.info({ workers }, 'external drachtio-server: sip.workers does not apply, one call-control instance');
  let app;
  try {
    if (split) {
      const s = await startPrimary(config, logger, workers);
      s.onWorkerLost((why) => void s.shutdown(why).finally(() => process.exit(1)));
      app = s;
    } else app = await startApp(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    await new Promise((r) => setTimeout(r, 100)); // let pino flush
    process.exit(1);
  }
  logger.info({ sipPort: app.sipPort, httpPort: app.httpPort, workers: split ? workers : 1 }, 'softswitch ready');
  // npm and tsx forward the terminal's signal to us as well, so one Ctrl-C can arrive two or three times at once:
  // repeats within a second are the same request; a later one means "stop waiting for the drain".
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    const now = Date.now();
    if (firstSignalAt !== 0) {
      if (now - firstSignalAt < 1000) return;
      logger.warn({ sig }, 'signal during drain: exiting now');
      process.exit(1);
    }
    firstSignalAt = now;
    void app.shutdown(sig).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

void main();
