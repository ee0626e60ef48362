/**
 * pino: JSON lines, pretty when stdout is a terminal. Per-call loggers are children with callId and tenant.
 * Secrets never reach a log line: the keys below are censored wherever they appear (up to three levels deep, and
 * the whole config object's secrets when someone logs `{ config }`); config dumps go through configForLog().
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SECRET_KEYS = ['secret', 'password', 'passwd', 'token', 'operatorToken', 'authorization', 'cookie', 'apiKey'];

/** pino redact paths: each secret key at the top, one, two or three levels down; HTTP headers; the config object. */
const REDACT_PATHS: string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'config.drachtio.secret', 'config.api.operatorToken', 'config.postgres.url', 'config.redis.url',
];

/**
 * The service's log stream (npm start): on a terminal, pino-pretty (undefined here); otherwise JSON lines written
 * synchronously to fd 1, as pino does by default, also from a worker thread, whose process.stdout would be relayed
 * by the main thread. Synchronous: a line is out before the next statement runs (tests and crash forensics read
 * them); the profile showed no gain from asynchronous writes (docs/performance.md "Profile").
 */
export function serviceDestination(tty = process.stdout.isTTY === true): DestinationStream | undefined {
  return tty ? undefined : pino.destination({ dest: 1, sync: true });
}

/** Flush what the destination still holds (a worker thread before it ends; a no-op for a synchronous one). */
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
