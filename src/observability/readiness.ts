/**
 * Readiness registry behind /readyz: components (drachtio connection, Redis, PostgreSQL, outbox consumer, ...)
 * add a named probe; check() runs them all at once, each under a timeout, and says which are down and why.
 * Draining (shutdown) makes the instance unready whatever the probes say, so load balancers stop sending calls.
 * A non-critical component (a media server: calls go on without announcements) is reported, and counted in
 * softswitch_component_up, but never makes the instance unready.
 */
import { metrics } from './metrics.js';

type Probe = () => Promise<boolean> | boolean;

export interface ReadinessReport {
  ready: boolean;
  /** true = up; false = probe said down; string = why it is down (error text, 'timeout', 'draining') */
  components: Record<string, boolean | string>;
  /** Per component with parts (e.g. drachtio: one entry per server): part → up; present only for such components. */
  details?: Record<string, Record<string, boolean>>;
  /** components that do not count for `ready` (only present when there are some) */
  optional?: string[];
}

export class Readiness {
  private readonly probes = new Map<string, Probe>();
  private readonly details = new Map<string, () => Record<string, boolean>>();
  private readonly optional = new Set<string>();
  private draining = false;

  constructor(private readonly probeTimeoutMs = 1000) {
    if (!(probeTimeoutMs > 0)) throw new RangeError(`probe timeout must be positive, got ${probeTimeoutMs}`);
  }

  /** Register a probe. Names are metric label values, so keep them few and fixed (no ids). */
  add(name: string, probe: Probe, opts: { critical?: boolean } = {}): void {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(name)) throw new RangeError(`readiness probe name must match [a-z][a-z0-9_]{0,31}: ${JSON.stringify(name)}`);
    if (name === 'draining') throw new RangeError('readiness probe name "draining" is reserved');
    if (this.probes.has(name)) throw new RangeError(`readiness probe ${name} is already registered`);
    this.probes.set(name, probe);
    if (opts.critical === false) this.optional.add(name);
  }

  /** A component made of parts: its probe decides readiness, `detail` lists each part's state in the report. */
  addWithDetail(name: string, probe: Probe, detail: () => Record<string, boolean>, opts: { critical?: boolean } = {}): void {
    this.add(name, probe, opts);
    this.details.set(name, detail);
  }

  setDraining(on: boolean): void {
    this.draining = on;
    metrics.draining.set(on ? 1 : 0);
  }

  async check(): Promise<ReadinessReport> {
    const names = [...this.probes.keys()];
    const results = await Promise.all(names.map((n) => this.run(this.probes.get(n)!)));
    const components: Record<string, boolean | string> = {};
    names.forEach((n, i) => {
      components[n] = results[i]!;
      metrics.componentUp.set({ component: n }, results[i] === true ? 1 : 0);
    });
    if (this.draining) components.draining = 'draining';
    const ready = !this.draining && results.every((r, i) => r === true || this.optional.has(names[i]!));
    return {
      ready, components,
      ...(this.optional.size ? { optional: [...this.optional] } : {}),
      ...(this.details.size ? { details: Object.fromEntries([...this.details].map(([n, d]) => [n, d()])) } : {}),
    };
  }

  private async run(probe: Probe): Promise<boolean | string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.probeTimeoutMs);
    });
    try {
      const r = await Promise.race([Promise.resolve().then(probe), timeout]);
      return r === true ? true : r === 'timeout' ? 'timeout' : false;
    } catch (e) {
      return (e as Error)?.message || String(e);
    } finally {
      clearTimeout(timer);
    }
  }
}
