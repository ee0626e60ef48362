/**
 * Reading Prometheus text exposition and PromQL in tests: which metric families a /metrics page declares, the
 * value of one sample, and which metric names an expression (alert rule, recording rule, dashboard panel) uses.
 * The end-to-end "/metrics after a sipp call" check (wired by the lead once the whole app runs) uses
 * scrapeMetrics() + missingFamilies() + sampleValue() from here.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** family name → type (counter, gauge, histogram, summary, untyped) from the # TYPE lines */
  families: Map<string, string>;
  samples: Sample[];
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

export function parseExposition(text: string): Exposition {
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      families.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.push({ name: m[1]!, labels: m[3] ? parseLabels(m[3]) : {}, value: Number(m[4]) });
  }
  return { families, samples };
}

export async function scrapeMetrics(baseUrl: string): Promise<Exposition> {
  const res = await fetch(new URL('/metrics', baseUrl));
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return parseExposition(await res.text());
}

/** Names in `wanted` that the exposition does not declare. */
export function missingFamilies(e: Exposition, wanted: Iterable<string>): string[] {
  return [...wanted].filter((n) => !e.families.has(n));
}

/** Sum of the samples of `name` whose labels include `labels` (undefined when none matches). */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((a, s) => a + s.value, 0) : undefined;
}

/** The family a series name belongs to: histogram/summary series carry _bucket/_sum/_count suffixes. */
export function familyOf(series: string, families: ReadonlySet<string>): string | undefined {
  if (families.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return families.has(base) ? base : undefined;
}

/**
 * Metric names a PromQL expression reads, restricted to the given prefixes (`softswitch_`, `softswitch:`, `drachtio_`,
 * ...): string literals and label matchers are removed first, so label values never count as names.
 */
export function promqlMetricNames(expr: string, prefixes: readonly string[]): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\]|\\.)*'/g, "''")
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) if (prefixes.some((p) => m[0].startsWith(p))) names.add(m[0]);
  return [...names];
}
