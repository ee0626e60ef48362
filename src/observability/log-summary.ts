/**
 * Log lines that an outsider can trigger at will (an INVITE from a non-trunk address), summarised per key: the first
 * event of a key in an interval is logged at once (a stray request stays visible right away), the rest of that
 * interval are only counted and reported as one line per key when the interval ends. Memory is bounded: past
 * `maxKeys` distinct keys in one interval, further keys are counted together without being remembered. Metrics
 * stay per request; only the log is summarised. No timers or I/O here: the caller drains it on its own interval.
 */
interface SummaryLine {
  key: string;
  /** events of this key in the interval that were not logged on their own */
  suppressed: number;
}

interface Drained {
  lines: SummaryLine[]; // keys with suppressed events, in first-seen order
  /** events of keys beyond maxKeys (not remembered, not logged on their own) */
  overflow: number;
}

export class LogSummary {
  private counts = new Map<string, number>();
  private overflow = 0;

  constructor(private readonly maxKeys = 1000) {}

  /** Count one event; true when it is the first of its key in this interval and should be logged now. */
  note(key: string): boolean {
    const n = this.counts.get(key);
    if (n !== undefined) {
      this.counts.set(key, n + 1);
      return false;
    }
    if (this.counts.size >= this.maxKeys) {
      this.overflow++;
      return false;
    }
    this.counts.set(key, 1);
    return true;
  }

  /** End the interval: what was not logged on its own, then start afresh. */
  drain(): Drained {
    const lines: SummaryLine[] = [];
    for (const [key, n] of this.counts) if (n > 1) lines.push({ key, suppressed: n - 1 });
    const out = { lines, overflow: this.overflow };
    this.counts = new Map();
    this.overflow = 0;
    return out;
  }
}
