/** LogSummary: the first event of a key per interval is logged, the rest summarised per key; memory is bounded. */
import { describe, expect, it } from 'vitest';
import { LogSummary } from '../../src/observability/log-summary.js';

describe('LogSummary', () => {
  it('logs the first event of each key at once and summarises the rest of the interval per key', () => {
    const s = new LogSummary(10);
    const logged = ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.2'].map((k) => s.note(k));
    expect(logged).toEqual([true, false, true, false, true, false]);
    expect(s.drain()).toEqual({ lines: [{ key: '10.0.0.1', suppressed: 2 }, { key: '10.0.0.2', suppressed: 1 }], overflow: 0 });
    // a new interval: each key is logged once again, nothing left to summarise
    expect(s.note('10.0.0.1')).toBe(true);
    expect(s.drain()).toEqual({ lines: [], overflow: 0 });
    expect(s.drain()).toEqual({ lines: [], overflow: 0 });
  });

  it('a flood of 100 000 events from 5 000 addresses: maxKeys lines at once, maxKeys summary lines and one overflow count; every event accounted for', () => {
    const s = new LogSummary(100);
    let immediate = 0;
    for (let i = 0; i < 100_000; i++) {
      const a = i % 5000;
      if (s.note(`198.51.${a >> 8}.${a & 255}`)) immediate++;
    }
    expect(immediate).toBe(100);
    const d = s.drain();
    expect(d.lines).toHaveLength(100);
    // every event is accounted for: logged at once, summarised per key, or counted as overflow
    expect(immediate + d.lines.reduce((n, l) => n + l.suppressed, 0) + d.overflow).toBe(100_000);
    expect(d.overflow).toBe(100_000 - 100 * 20); // the first 100 addresses are remembered, each seen 20 times
  });
});
