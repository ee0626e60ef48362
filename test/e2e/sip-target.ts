/**
 * Which SIP server the e2e harness puts between sipp and the app: the embedded edge (default, `npm test`) or a real
 * drachtio-server 0.9.4 (`SIP_TEST_TARGET=drachtio`, `npm run test:drachtio`). Same test files, same assertions.
 * With the real server, its log (every SIP message) is kept when a test of the file failed, and its path printed.
 */
import { beforeEach } from 'vitest';
import type { Logger } from 'pino';
import { startEdge, type Edge, type EdgeOptions } from '../../src/edge/index.js';
import { drachtioServerMissing, startDrachtioServer, type DrachtioServer } from '../helpers/drachtio-server.js';
import { freePort } from '../helpers/ports.js';

export type SipTargetKind = 'edge' | 'drachtio';

export const SIP_TEST_TARGET: SipTargetKind = process.env.SIP_TEST_TARGET === 'drachtio' ? 'drachtio' : 'edge';
if (process.env.SIP_TEST_TARGET && !['edge', 'drachtio'].includes(process.env.SIP_TEST_TARGET)) {
  throw new Error(`SIP_TEST_TARGET must be edge or drachtio, not ${process.env.SIP_TEST_TARGET}`);
}
if (SIP_TEST_TARGET === 'drachtio' && drachtioServerMissing()) throw new Error(`SIP_TEST_TARGET=drachtio: ${drachtioServerMissing()}`);

let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

export interface SipTarget {
  kind: SipTargetKind;
  sipPort: number;
  controlPort: number;
  secret: string;
  /** The embedded edge (null against drachtio-server). */
  edge: Edge | null;
  /** The real server (null against the embedded edge). */
  drachtio: DrachtioServer | null;
  close(): Promise<void>;
}

/**
 * `edgeExtras`: the door settings the composition root gives the edge (allow-list, limits; drachtio-server takes
 * only `transports` of them, default udp).
 */
export async function startSipTarget(secret: string, logger: Logger, edgeExtras: Pick<EdgeOptions, 'sources'> & Partial<EdgeOptions>): Promise<SipTarget> {
  const transports = edgeExtras.transports ?? ['udp'];
  if (SIP_TEST_TARGET === 'drachtio') {
    const d = await startDrachtioServer({ transports });
    return {
      kind: 'drachtio', sipPort: d.sipPort, controlPort: d.controlPort, secret: d.secret, edge: null, drachtio: d,
      close: () => d.stop(failed),
    };
  }
  // UDP alone takes any port the kernel gives; UDP+TCP need one number free on both
  const sipPort = transports.includes('tcp') ? await freePort() : 0;
  const edge = await startEdge({
    sipHost: '127.0.0.1', sipPort, controlHost: '127.0.0.1', controlPort: 0, secret, logger, ...edgeExtras, transports,
  });
  return { kind: 'edge', sipPort: edge.sipPort, controlPort: edge.controlPort, secret, edge, drachtio: null, close: () => edge.close() };
}
