/**
 * Deltas of cumulative counters over a sliding time window, from snapshots taken when Prometheus scrapes.
 * Pure (the caller passes the clock), so the ASR and CPS gauges are testable without waiting.
 */
interface WindowDelta {
  /** seconds between the baseline snapshot and now (0 on the very first observation at the same instant) */
  seconds: number;
  /** current value minus baseline value, per counter */
  deltas: number[];
}

export class SlidingDelta {
  private snaps: { at: number; values: number[] }[];

  /** `startAt`/`startValues`: the counters' values when counting began (process start: zeros). */
  constructor(
    private readonly windowMs: number,
    startAt: number,
    startValues: number[],
  ) {
    if (!(windowMs > 0)) throw new RangeError(`window must be positive, got ${windowMs}`);
    this.snaps = [{ at: startAt, values: [...startValues] }];
  }

  /** Record the counters at `at` and return their change over the window ending at `at`. */
  push(at: number, values: number[]): WindowDelta {
    const cutoff = at - this.windowMs;
    // Baseline: the newest snapshot at or before the window start, so the delta spans the whole window once
    // enough history exists; before that, the oldest snapshot (process start).
    let base = 0;
    for (let i = 0; i < this.snaps.length; i++) if (this.snaps[i]!.at <= cutoff) base = i;
    this.snaps = this.snaps.slice(base);
    const b = this.snaps[0]!;
    this.snaps.push({ at, values: [...values] });
    return { seconds: Math.max(0, (at - b.at) / 1000), deltas: values.map((v, i) => v - (b.values[i] ?? 0)) };
  }
}

/** Answer-seizure ratio: answered / seized; NaN when nothing was seized (Prometheus shows "no data", not 0). */
export function asrRatio(answered: number, seized: number): number {
  return seized > 0 ? answered / seized : Number.NaN;
}

/** Events per second over `seconds`; 0 for an empty interval. */
export function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : 0;
}
