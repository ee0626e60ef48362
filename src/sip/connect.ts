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
      giveUp(srf);
      reject(new SrfConnectError(where, `no authenticated connection within ${timeoutMs} ms`));
    }, timeoutMs);
    srf.once('connect', (err: Error | null) => {
      clearTimeout(timer);
      if (err) {
        giveUp(srf);
        reject(new SrfConnectError(where, err.message));
      } else resolve();
    });
    (srf as unknown as { connect(o: object): unknown }).connect({ host: target.host, port: target.port, secret: target.secret });
  });
  return srf;
}

/**
 * Stop a connection attempt for good. srf.disconnect() throws when no socket was ever connected, and srf's
 * wire protocol keeps retrying a refused connection forever, so its retry loop is stopped directly
 * (drachtio-srf 5.0.29 lib/wire-protocol.js: `closing` ends _onConnectionGone's retries).
 */
function giveUp(srf: TypedSrf): void {
  try {
    srf.disconnect();
  } catch {
    // never connected
  }
  const wp = (srf as unknown as { app?: { wp?: { closing: boolean; reconnectVars?: { retryTimer: NodeJS.Timeout | null }; socket?: { destroy(): void } } } }).app?.wp;
  if (!wp) return;
  wp.closing = true;
  if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
  if (wp.reconnectVars) wp.reconnectVars.retryTimer = null;
  wp.socket?.destroy();
}
