/**
 * /metrics and /readyz of a running app after real sipp calls: the e2e harness (embedded edge, drachtio-srf,
 * createSipApp, charging engine, Redis, outbox, PostgreSQL) plus the HTTP server with the real probes.
 * One answered call and one 402 rejection must show up in the call metrics the dashboard and alerts read.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { drachtioProbe, postgresProbe, redisProbe } from '../../src/observability/probes.js';
import { Readiness } from '../../src/observability/readiness.js';
import { registry } from '../../src/observability/metrics.js';
import { freePort } from '../helpers/ports.js';
import { killSipps, logger, scenarioFor, startHarness, type Harness } from '../e2e/harness.js';
import { missingFamilies, sampleValue, scrapeMetrics } from './helpers/exposition.js';

let h: Harness;
let http: HttpServer;
let base: string;

beforeAll(async () => {
  h = await startHarness();
  const readiness = new Readiness(h.config.health.probeTimeoutMs);
  readiness.add('drachtio', drachtioProbe(h.srf));
  readiness.add('redis', redisProbe(h.redis));
  readiness.add('postgres', postgresProbe(h.db.pool));
  http = createHttpServer({ config: { ...h.config, http: { host: '127.0.0.1', port: 0 } }, logger, readiness });
  base = `http://127.0.0.1:${(await http.listen()).port}`;
});
afterEach(() => killSipps());
afterAll(async () => {
  await http?.close();
  await h?.close();
});

describe('/metrics after sipp calls through the whole app', () => {
  it('is ready with drachtio connected and the stores up', async () => {
    const res = await fetch(base + '/readyz');
    expect(await res.json()).toEqual({ ready: true, down: [], components: { drachtio: true, redis: true, postgres: true } });
  });

  it('counts an answered call and a no_balance rejection, with duration, post-dial delay, authorization latency and ASR', async () => {
    const tenantId = await h.tenant({ code: 'metrics', number: '+8657100000091', balanceFen: 1000n });
    await h.tenant({ code: 'metricsbroke', number: '+8657100000092', balanceFen: 0n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-m', port }]);
    const carrier = await h.carrier('call-uas-answer.xml', port);
    expect(await h.call('call-uac-answer.xml', { caller: '+8657100000091', callee: '13800138000', holdMs: 1000 })).toMatchObject({ successful: 1 });
    expect(await carrier.done).toMatchObject({ successful: 1 });
    const rejected = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 402, CHECK_REASON: 'true' }), { caller: '+8657100000092', callee: '13800138000' });
    expect(rejected).toMatchObject({ successful: 1 });
    await h.cdrs({ tenantId }, 1); // settled through the outbox

    const e = await scrapeMetrics(base);
    const defined = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(missingFamilies(e, defined)).toEqual([]);
    expect(sampleValue(e, 'softswitch_calls_total', { result: 'answered' })).toBe(1);
    expect(sampleValue(e, 'softswitch_calls_total', { result: 'rejected', reason: 'no_balance' })).toBe(1);
    expect(sampleValue(e, 'softswitch_invites_total')).toBe(2);
    expect(sampleValue(e, 'softswitch_call_duration_seconds_count')).toBe(1);
    expect(sampleValue(e, 'softswitch_call_duration_seconds_sum')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(e, 'softswitch_post_dial_delay_seconds_count')).toBe(1);
    expect(sampleValue(e, 'softswitch_authorize_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(e, 'softswitch_active_calls')).toBe(0);
    expect(sampleValue(e, 'softswitch_gateway_active_calls', { gateway: 'gw-m' })).toBe(0);
    expect(sampleValue(e, 'softswitch_drachtio_connected')).toBe(1);
    // one seizure, answered; the rejection is not a seizure
    expect(sampleValue(e, 'softswitch_asr_ratio')).toBe(1);
    // no per-number label anywhere
    expect(e.samples.some((s) => Object.values(s.labels).some((v) => v.includes('8657100000091')))).toBe(false);
  });
});
