/**
 * Gateway OPTIONS pings (src/sip/gateway-pings.ts) with a test double for srf (its requests and their responses) and
 * the directory; real pings against a sipp carrier run in test/e2e/call-options.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import type { Gateway } from '../../src/sip/directory.js';
import { pingGateway, pingRound, type PingDeps } from '../../src/sip/gateway-pings.js';
import { GatewayHealth } from '../../src/sip/gateways.js';
import type { TypedSrf } from '../../src/sip/srf-types.js';

const gw: Gateway = { id: '1', name: 'gw-a', host: '10.0.0.9', port: 5070, transport: 'udp', priority: 10, weight: 100, numberFormat: 'e164' };

/** srf whose OPTIONS gets `answer`: a status, 'refused' (the request cannot be sent) or 'silent' (no response ever). */
function srfAnswering(answer: number | 'refused' | 'silent') {
  const sent: { uri: string; method: string; headers?: Record<string, string> }[] = [];
  const srf = {
    async request(uri: string, o: { method: string; headers?: Record<string, string> }) {
      sent.push({ uri, ...o });
      if (answer === 'refused') throw new Error('no route');
      const req = new EventEmitter();
      if (typeof answer === 'number') setImmediate(() => req.emit('response', { status: answer }));
      return req;
    },
  };
  return { srf: srf as unknown as TypedSrf, sent };
}

function deps(health: GatewayHealth, over: Partial<PingDeps> = {}): PingDeps {
  return {
    config: loadConfig({}, { 'sip.optionsPingSeconds': 1 }), servers: { pick: () => null }, directory: { gateways: async () => [gw] },
    health, agent: 'softswitch-test', log: pino({ level: 'silent' }), ...over,
  };
}

describe('gateway OPTIONS pings (test double for srf)', () => {
  it('any answer, even 404, keeps a gateway up; the ping goes to its host with our User-Agent', async () => {
    const health = new GatewayHealth(2);
    const { srf, sent } = srfAnswering(404);
    await pingGateway(gw, srf, deps(health));
    await pingGateway(gw, srf, deps(health));
    expect(health.isUp(gw)).toBe(true);
    expect(sent[0]).toMatchObject({ uri: 'sip:10.0.0.9:5070;transport=udp', method: 'OPTIONS', headers: { 'User-Agent': 'softswitch-test' } });
  });

  it('two pings that cannot be sent, or that get no answer, take it down; one answer brings it back', async () => {
    const refused = new GatewayHealth(2);
    await pingGateway(gw, srfAnswering('refused').srf, deps(refused));
    expect(refused.isUp(gw)).toBe(true); // one failure proves nothing
    await pingGateway(gw, srfAnswering('refused').srf, deps(refused));
    expect(refused.isUp(gw)).toBe(false);
    await pingGateway(gw, srfAnswering(200).srf, deps(refused));
    expect(refused.isUp(gw)).toBe(true);

    const silent = new GatewayHealth(2);
    await pingGateway(gw, srfAnswering('silent').srf, deps(silent));
    await pingGateway(gw, srfAnswering('silent').srf, deps(silent));
    expect(silent.isUp(gw)).toBe(false);
  });

  it('a round with no connected server is skipped: no lookup, no ping, the state stays', () => {
    const health = new GatewayHealth(2);
    let lookups = 0;
    pingRound(deps(health, { directory: { gateways: async () => (lookups++, [gw]) } }));
    expect(lookups).toBe(0);
    expect(health.isUp(gw)).toBe(true);
  });
});
