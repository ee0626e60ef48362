import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEdge, type Edge } from '../../src/edge/index.js';
import { connectSrf, SrfConnectError } from '../../src/sip/connect.js';
import { freePort } from '../helpers/ports.js';

const logger = pino({ level: 'silent' });
let edge: Edge;
beforeAll(async () => {
  edge = await startEdge({
    sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort: 0, secret: 's3cret', logger,
  });
});
afterAll(async () => {
  await edge.close();
});

describe('connectSrf (against the embedded edge)', () => {
  it('connects and authenticates', async () => {
    const srf = await connectSrf({ host: '127.0.0.1', port: edge.controlPort, secret: 's3cret' }, logger);
    srf.disconnect();
  });

  it('a wrong secret is a clear SrfConnectError', async () => {
    await expect(connectSrf({ host: '127.0.0.1', port: edge.controlPort, secret: 'wrong' }, logger, 3000)).rejects.toBeInstanceOf(SrfConnectError);
  });

  it('nobody listening: rejects after the timeout, naming the target', async () => {
    const port = await freePort();
    await expect(connectSrf({ host: '127.0.0.1', port, secret: 'x' }, logger, 500)).rejects.toThrow(`127.0.0.1:${port}`);
  });
});
