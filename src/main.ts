/** `npm start`: build the config, start every part, drain on SIGTERM/SIGINT, exit 0. */
import { ConfigError, loadConfig } from './config/config.js';
import { startApp } from './app.js';
import { createLogger } from './util/logger.js';

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
  const logger = createLogger(config.log.level);
  let app;
  try {
    app = await startApp(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    await new Promise((r) => setTimeout(r, 100)); // let pino flush
    process.exit(1);
  }
  logger.info({ sipPort: app.sipPort, httpPort: app.httpPort }, 'softswitch ready');
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
