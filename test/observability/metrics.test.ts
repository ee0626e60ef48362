/**
 * The metric registry: Prometheus naming rules, bounded labels, and the instance-local ASR and CPS gauges
 * (their windows are driven by explicit clocks in the pure SlidingDelta tests, by real counters via the registry).
 */
import { describe, expect, it } from 'vitest';
import { metrics, registry } from '../../src/observability/metrics.js';
import { SlidingDelta, asrRatio, perSecond } from '../../src/observability/window.js';
import { parseExposition, sampleValue } from './helpers/exposition.js';

describe('SlidingDelta', () => {
  it('measures from process start until a full window of history exists, then over the last window only', () => {
    const w = new SlidingDelta(60_000, 0, [0]);
    expect(w.push(10_000, [5])).toEqual({ seconds: 10, deltas: [5] });
    expect(w.push(50_000, [9])).toEqual({ seconds: 50, deltas: [9] });
    // at 70 s the window starts at 10 s: the snapshot taken at 10 s (value 5) is the baseline
    expect(w.push(70_000, [12])).toEqual({ seconds: 60, deltas: [7] });
    // at 200 s the newest snapshot at or before 140 s is the one at 70 s
    expect(w.push(200_000, [20])).toEqual({ seconds: 130, deltas: [8] });
  });

  it('keeps several counters in step and refuses a non-positive window', () => {
    const w = new SlidingDelta(1000, 0, [1, 2]);
    expect(w.push(500, [4, 10]).deltas).toEqual([3, 8]);
    expect(() => new SlidingDelta(0, 0, [])).toThrow(RangeError);
  });

  it('ASR is NaN without seizures (not 0, which would page the NOC) and CPS is 0 over an empty interval', () => {
    expect(asrRatio(0, 0)).toBeNaN();
    expect(asrRatio(3, 4)).toBe(0.75);
    expect(perSecond(10, 0)).toBe(0);
    expect(perSecond(30, 60)).toBe(0.5);
  });
});

describe('ASR and CPS gauges', () => {
  it('compute ASR over seizures only (our own rejections never reached a carrier) and CPS from INVITEs', async () => {
    metrics.callsTotal.inc({ result: 'answered', reason: 'none', sip_class: '2xx' }, 6);
    metrics.callsTotal.inc({ result: 'failed', reason: 'none', sip_class: '4xx' }, 3);
    metrics.callsTotal.inc({ result: 'canceled', reason: 'none', sip_class: '' }, 1);
    metrics.callsTotal.inc({ result: 'rejected', reason: 'no_balance', sip_class: '4xx' }, 50);
    metrics.invitesTotal.inc(60);
    const e = parseExposition(await registry.metrics());
    expect(sampleValue(e, 'softswitch_asr_ratio')).toBeCloseTo(0.6, 10);
    expect(sampleValue(e, 'softswitch_calls_per_second')).toBeGreaterThan(0);
  });
});

describe('naming and labels', () => {
  it('every product metric is softswitch_-prefixed, has help, counters end in _total, no float-money or high-cardinality labels', async () => {
    const all = await registry.getMetricsAsJSON();
    const forbiddenLabels = ['caller', 'callee', 'number', 'call_id', 'callid', 'tenant', 'tenant_id', 'ip', 'user'];
    const standard = (name: string) => /^(process|nodejs)_/.test(name);
    for (const m of all) {
      const type = String(m.type);
      expect(m.name, m.name).toMatch(/^(softswitch|process|nodejs)_[a-z0-9_]+$/);
      expect(m.help.length, `${m.name} help`).toBeGreaterThan(5);
      if (type === 'counter') expect(m.name).toMatch(/_total$/);
      // (prom-client's own nodejs_active_*_total gauges are outside our control)
      if (type !== 'counter' && !standard(m.name)) expect(m.name, `${m.name} is a ${type}`).not.toMatch(/_total$/);
    }
    // declared label names (not only those that happen to have values yet)
    for (const m of registry.getMetricsAsArray() as unknown as { name: string; labelNames?: string[] }[]) {
      for (const l of m.labelNames ?? []) expect(forbiddenLabels, `${m.name} has label ${l}`).not.toContain(l);
    }
    expect((registry.getSingleMetric('softswitch_calls_total') as unknown as { labelNames: string[] }).labelNames).toEqual(['result', 'reason', 'sip_class']);
    // histograms of our own are in base units (seconds)
    for (const m of all.filter((x) => String(x.type) === 'histogram' && !/^nodejs_/.test(x.name))) expect(m.name).toMatch(/_seconds$/);
  });

  it('exports the standard Node.js metrics under their stock names, never softswitch_-prefixed (stock dashboards)', async () => {
    const names = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) {
      expect(names, n).toContain(n);
    }
    expect([...names].filter((n) => /^softswitch_(process|nodejs)_/.test(n))).toEqual([]);
  });
});
