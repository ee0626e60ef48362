import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEdge, type Edge } from '../../src/edge/index.js';
import { ANY_SOURCE } from '../../src/edge/sources.js';
import { connectSrf, SrfConnectError } from '../../src/sip/connect.js';
import { createSocket } from 'node:dgram';
import { freePort } from '../helpers/ports.js';
import { metrics } from '../../src/observability/metrics.js';

const logger = pino({ level: 'silent' });
let edge: Edge;
beforeAll(async () => {
  edge = await startEdge({
    sipHost: '127.0.0.1', sipPort: 0, transports: ['udp'], controlHost: '127.0.0.1', controlPort: 0, secret: 's3cret', logger, sources: ANY_SOURCE,
  });
});
afterAll(async () => {
  await edge.close();
});

describe('connectSrf (against the embedded edge)', () => {
  it('connects and authenticates: the connection gauge is 1 and a SIP request reaches the app', async () => {
    const srf = await connectSrf({ host: '127.0.0.1', port: edge.controlPort, secret: 's3cret' }, logger);
    try {
      // this server's series (a failed connect elsewhere has a series of its own, at 0)
      const series = (await metrics.drachtioConnected.get()).values.find((v) => v.labels.server === `127.0.0.1:${edge.controlPort}`);
      expect(series?.value).toBe(1);
      srf.options((_req, res) => res.send(200, { headers: { 'X-Answered-By': 'connect-test' } }));
      const udp = createSocket('udp4');
      const answer = new Promise<string>((resolve) => udp.on('message', (b) => resolve(b.toString())));
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
      const me = udp.address().port;
      udp.send([`OPTIONS sip:ping@127.0.0.1:${edge.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-ct1;rport`,
        'From: <sip:t@127.0.0.1>;tag=ct1', 'To: <sip:ping@127.0.0.1>', 'Call-ID: connect-test-1', 'CSeq: 1 OPTIONS', 'Max-Forwards: 70',
        'Content-Length: 0', '', ''].join('\r\n'), edge.sipPort, '127.0.0.1');
      const text = await answer;
      udp.close();
      expect(text).toMatch(/^SIP\/2.0 200 /);
      expect(text).toMatch(/X-Answered-By: connect-test/i);
    } finally {
      srf.disconnect();
    }
  });

  it('a wrong secret is a clear SrfConnectError', async () => {
    await expect(connectSrf({ host: '127.0.0.1', port: edge.controlPort, secret: 'wrong' }, logger, 3000)).rejects.toBeInstanceOf(SrfConnectError);
  });

  it('nobody listening: rejects after the timeout, naming the target', async () => {
    const port = await freePort();
    await expect(connectSrf({ host: '127.0.0.1', port, secret: 'x' }, logger, 500)).rejects.toThrow(`127.0.0.1:${port}`);
  });
});
