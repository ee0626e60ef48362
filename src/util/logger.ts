/** pino: JSON lines, pretty when stdout is a terminal. Per-call loggers are children with callId and tenant. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'softswitch'): Logger {
  const pretty = process.stdout.isTTY === true;
  return pino({
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } } : {}),
  });
}
