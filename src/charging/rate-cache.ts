/**
 * Rate decks in memory, loaded from PostgreSQL per rate plan on first use and reloaded in the background when
 * older than `maxAgeMs`. If PostgreSQL is unreachable the last loaded deck keeps serving (calls go on without the
 * system of record); a plan never loaded then is an error the engine turns into store_down.
 */
import type { Pool } from '../db/pool.js';
import { RateDeck } from '../rating/deck.js';
import { deckEntries } from '../store/rates.js';

export class RateCache {
  private readonly decks = new Map<string, { deck: RateDeck; loadedAt: number }>();
  private readonly loading = new Map<string, Promise<RateDeck>>();

  constructor(private readonly pool: Pool, private readonly now: () => number, private readonly maxAgeMs = 60_000) {}

  /** The plan's deck. Only a first load waits for PostgreSQL; a stale deck is served at once while it reloads in
   * the background, so a slow or unreachable PostgreSQL never delays authorization. */
  async get(ratePlanId: string): Promise<RateDeck> {
    const hit = this.decks.get(ratePlanId);
    if (!hit) return this.load(ratePlanId);
    if (this.now() - hit.loadedAt >= this.maxAgeMs) this.load(ratePlanId).catch(() => undefined);
    return hit.deck;
  }

  invalidate(ratePlanId?: string): void {
    if (ratePlanId === undefined) this.decks.clear();
    else this.decks.delete(ratePlanId);
  }

  private load(ratePlanId: string): Promise<RateDeck> {
    const pending = this.loading.get(ratePlanId);
    if (pending) return pending;
    const p = (async () => {
      const deck = new RateDeck(ratePlanId, await deckEntries(this.pool, ratePlanId));
      this.decks.set(ratePlanId, { deck, loadedAt: this.now() });
      return deck;
    })().finally(() => this.loading.delete(ratePlanId));
    this.loading.set(ratePlanId, p);
    return p;
  }
}
