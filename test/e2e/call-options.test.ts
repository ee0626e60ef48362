/**
 * OPTIONS both ways through the embedded edge with real sipp: the call center's keepalive is answered 200, and the
 * app's OPTIONS pings mark a silent carrier gateway down and a live one up (softswitch_gateway_up), and the silent
 * one's down period is written to the carrier outage log (gateway_outages, contract art. 10).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/observability/metrics.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { killSipps, startHarness, type Harness } from './harness.js';

let h: Harness;
let livePort = 0;
let deadPort = 0;
let live: Promise<unknown>;
beforeAll(async () => {
  livePort = await freePort();
  deadPort = await freePort();
  h = await startHarness({ 'sip.optionsPingSeconds': 1 });
  await h.gateways([{ name: 'gw-live', port: livePort }, { name: 'gw-dead', port: deadPort }]);
  live = (await h.carrier('call-uas-options.xml', livePort, {}, 1000)).done;
});
afterAll(async () => {
  killSipps();
  await live.catch(() => undefined);
  await h?.close();
});

async function gatewayUp(name: string): Promise<number | undefined> {
  const m = (await registry.getSingleMetric('softswitch_gateway_up')?.get())?.values.find((v) => v.labels['gateway'] === name);
  return m?.value;
}

describe('OPTIONS', () => {
  it('the call-center trunk\'s OPTIONS is answered 200', async () => {
    const r = await h.call('call-uac-options.xml', { caller: 'ccc', callee: 'ping' });
    expect(r).toMatchObject({ successful: 1, failed: 0 });
  });

  it('pings mark the silent gateway down and the answering one up', async () => {
    const end = Date.now() + 15_000;
    while ((await gatewayUp('gw-dead')) !== 0 || (await gatewayUp('gw-live')) !== 1) {
      if (Date.now() > end) throw new Error(`gateway states: dead=${await gatewayUp('gw-dead')} live=${await gatewayUp('gw-live')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await gatewayUp('gw-dead')).toBe(0);
    expect(await gatewayUp('gw-live')).toBe(1);
  });

  it('the silent gateway\'s outage is in the outage log, open, from its first failed ping; the live one has none', async () => {
    const rows = await eventually('the outage row of gw-dead', async () => {
      const r = await h.db.pool.query<{ gateway: string; down_at: Date; up_at: Date | null; down_seen_by: string }>('select gateway, down_at, up_at, down_seen_by from gateway_outages');
      return r.rows.length > 0 ? r.rows : null;
    });
    expect(rows.map((r) => [r.gateway, r.up_at, r.down_seen_by])).toEqual([['gw-dead', null, 'e2e']]);
    expect(rows[0]!.down_at.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
