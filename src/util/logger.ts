/**
 * pino: JSON lines, pretty when stdout is a terminal. Per-call loggers are children with callId and tenant.
 * Secrets never reach a log line: the keys below are censored wherever they appear (up to three levels deep, and
 * the whole config object's secrets when someone logs `{ config }`); config dumps go through configForLog().
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SECRET_KEYS = ['secret', 'password', 'passwd', 'token', 'operatorToken', 'authorization', 'cookie', 'apiKey'];

/** pino redact paths: each secret key at the top, one, two or three levels down; HTTP headers; the config object. */
export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'config.drachtio.secret', 'config.api.operatorToken', 'config.postgres.url', 'config.redis.url',
];

/**
 * The service's log stream (npm start): on a terminal, pino-pretty (undefined here); otherwise JSON lines to fd 1
 * written asynchronously, so lines logged while a write is in flight go out in one write() instead of one
 * synchronous write() each (a quarter of the logging cost per call, docs/performance.md "Profile"). Nothing
 * waits for a buffer to fill: an idle service's lines go out at once. pino flushes it on exit in the main thread;
 * worker threads flush it before they end (src/workers/worker.ts).
 */
export function serviceDestination(tty = process.stdout.isTTY === true): DestinationStream | undefined {
  return tty ? undefined : pino.destination({ dest: 1, sync: false });
}

/** Flush what an asynchronous destination still holds (a worker thread before it ends). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

export function createLogger(level: string, name = 'softswitch', destination?: DestinationStream, tty = process.stdout.isTTY === true): Logger {
  const pretty = tty && destination === undefined;
  const options = {
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
