/**
 * Token buckets per key (a source address): `rate` tokens per second, at most `burst` saved up. The map is bounded:
 * when it is full, the entry used least recently is dropped (it starts again with a full bucket, which only ever
 * errs toward letting a source through). rate 0 = no limit. Used by the SIP edge (per source address) and the HTTP
 * API (per client address, before authentication).
 */
interface Bucket { tokens: number; at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: number,
    private readonly burst = rate,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    if (this.rate <= 0) return true;
    const b = this.bucket(key);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Take `cost` more tokens from `key` after the fact (as many as there are, down to an empty bucket). */
  charge(key: string, cost: number): void {
    if (this.rate <= 0) return;
    const b = this.bucket(key);
    b.tokens = Math.max(0, b.tokens - cost);
  }

  /** The bucket of `key`, refilled up to now. */
  private bucket(key: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order = least recently used first
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    } else {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: t };
    }
    this.buckets.set(key, b);
    return b;
  }

  get size(): number { return this.buckets.size; }
}
