/**
 * Connect drachtio-srf to a drachtio server (the external drachtio-server or the embedded edge: same code).
 * srf.connect() returns the Srf, not a Promise (its types say otherwise), so we wait for 'connect' ourselves.
 */
import Srf from 'drachtio-srf';
import type { Logger } from '../util/logger.js';
import { metrics } from '../observability/metrics.js';
import { asTypedSrf, type TypedSrf } from './srf-types.js';

export interface DrachtioTarget {
  host: string;
  port: number;
  secret: string;
}

export class SrfConnectError extends Error {
  constructor(readonly target: string, cause: string) {
    super(`cannot connect to drachtio server at ${target}: ${cause}`);
    this.name = 'SrfConnectError';
  }
}

/** Resolves with the connected srf once authenticated; rejects after timeoutMs (srf keeps no half-open socket). */
export async function connectSrf(target: DrachtioTarget, logger: Logger, timeoutMs = 10_000): Promise<TypedSrf> {
  const SrfCtor = Srf as unknown as new () => unknown;
  const srf = asTypedSrf(new SrfCtor());
  const where = `${target.host}:${target.port}`;
  srf.on('connect', (_err: unknown, hostport: string) => {
    metrics.drachtioConnected.set(1);
    logger.info({ drachtio: where, hostport }, 'connected to drachtio server');
  });
  srf.on('reconnecting', () => metrics.drachtioConnected.set(0));
  srf.on('close', () => metrics.drachtioConnected.set(0));
  // without an 'error' listener srf's EventEmitter would throw on a lost connection
  srf.on('error', (err: Error) => logger.warn({ err: err.message, drachtio: where }, 'drachtio connection error'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      srf.disconnect();
      reject(new SrfConnectError(where, `no authenticated connection within ${timeoutMs} ms`));
    }, timeoutMs);
    srf.once('connect', (err: Error | null) => {
      clearTimeout(timer);
      if (err) {
        srf.disconnect();
        reject(new SrfConnectError(where, err.message));
      } else resolve();
    });
    (srf as unknown as { connect(o: object): unknown }).connect({ host: target.host, port: target.port, secret: target.secret });
  });
  return srf;
}
