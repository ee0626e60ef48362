/**
 * /metrics of a split instance: the primary's registry and every worker's, merged into one exposition with
 * prom-client's AggregatorRegistry (each metric's `aggregator`: counters and histograms sum, gauges as declared in
 * src/observability/metrics.ts). process_* metrics describe the whole process, so the primary's are taken as they
 * are and the workers' copies dropped; nodejs_* (heap, event loop, GC) are per thread and aggregated.
 * A NaN sample (softswitch_asr_ratio of a thread without seizures) takes no part in an average.
 */
import { AggregatorRegistry, type Registry, type RegistryContentType } from 'prom-client';
import type { MetricsJson } from './protocol.js';

export function aggregateMetrics(primary: MetricsJson, workers: MetricsJson[]): Registry<RegistryContentType> {
  const processWide = primary.filter((m) => m.name.startsWith('process_'));
  const rest = [primary.filter((m) => !m.name.startsWith('process_')), ...workers.map((w) => w.filter((m) => !m.name.startsWith('process_')))];
  const merged = AggregatorRegistry.aggregate(withoutNaNInAverages(rest));
  // registered as-is: AggregatorRegistry would omit process_start_time_seconds ('omit' aggregator)
  for (const m of processWide) merged.registerMetric({ ...m, get: () => m } as unknown as Parameters<Registry['registerMetric']>[0]);
  return merged;
}

/** Drops NaN samples of 'average' metrics unless every thread's sample for those labels is NaN. */
function withoutNaNInAverages(sets: MetricsJson[]): MetricsJson[] {
  const averaged = new Set(sets.flat().filter((m) => m.aggregator === 'average').map((m) => m.name));
  const hasNumber = new Set<string>();
  for (const m of sets.flat()) {
    if (!averaged.has(m.name)) continue;
    for (const v of m.values) if (!Number.isNaN(v.value)) hasNumber.add(`${m.name}${JSON.stringify(v.labels)}`);
  }
  return sets.map((set) => set.map((m) => (averaged.has(m.name)
    ? { ...m, values: m.values.filter((v) => !Number.isNaN(v.value) || !hasNumber.has(`${m.name}${JSON.stringify(v.labels)}`)) }
    : m)));
}
