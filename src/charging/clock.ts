/** Time source of the engine, injectable so tests drive calls through minutes without waiting. */
export interface Clock {
  now(): number; // epoch ms
  /** Run fn at epoch ms `at` (at once if past); returns a cancel function. */
  at(at: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    const t = setTimeout(fn, Math.max(0, at - Date.now()));
    t.unref?.();
    return () => clearTimeout(t);
  },
};
