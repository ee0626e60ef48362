/**
 * Dialogs the edge itself Record-Routed for an app's `proxyRequest` (remainInDialog): the only requests the edge
 * forwards on its own, by loose routing (RFC 3261 §16.12). Anything else with a Route naming us is handled like
 * any other request (the app decides, or 481), so the edge is never an open relay.
 * Keyed by Call-ID and the two tags; each entry knows the addresses of the two parties, and a request is forwarded
 * only from one of them to one of them. Bounded: beyond `max` entries the least recently used goes first.
 */
export interface RoutedDialog {
  key: string;
  /** IP addresses of the two parties: where the dialog-forming request came from and went to, and their Contacts. */
  peers: Set<string>;
  lastUsed: number;
}

export class RoutedDialogs {
  private readonly map = new Map<string, RoutedDialog>();

  constructor(
    private readonly max = 20_000,
    /** A proxied call with no in-dialog request for this long is forgotten (longer than any call may last). */
    private readonly idleMs = 24 * 3600_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number { return this.map.size; }

  private static key(callId: string, a: string, b: string): string {
    return a < b ? `${callId}|${a}|${b}` : `${callId}|${b}|${a}`;
  }

  add(callId: string, fromTag: string, toTag: string, peers: Iterable<string>): void {
    const key = RoutedDialogs.key(callId, fromTag, toTag);
    const existing = this.map.get(key);
    if (existing) {
      for (const p of peers) existing.peers.add(p);
      return;
    }
    while (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, { key, peers: new Set(peers), lastUsed: this.now() });
  }

  /** The dialog of an in-dialog request (either direction), if we Record-Routed it and it is not stale. */
  find(callId: string, fromTag: string | undefined, toTag: string | undefined): RoutedDialog | undefined {
    if (fromTag === undefined || toTag === undefined) return undefined;
    const key = RoutedDialogs.key(callId, fromTag, toTag);
    const d = this.map.get(key);
    if (!d) return undefined;
    const t = this.now();
    if (t - d.lastUsed > this.idleMs) { this.map.delete(key); return undefined; }
    // most recently used last, so eviction takes the least recently used
    this.map.delete(key);
    d.lastUsed = t;
    this.map.set(key, d);
    return d;
  }

  remove(d: RoutedDialog): void {
    if (this.map.get(d.key) === d) this.map.delete(d.key);
  }

  clear(): void { this.map.clear(); }
}
