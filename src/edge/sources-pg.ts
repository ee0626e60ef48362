/**
 * Feeds a SourceAllowList from PostgreSQL: enabled ingress trunks (host or CIDR) and enabled carrier gateways
 * (host names resolved to their IPv4 addresses). Reloaded every `intervalMs` and at once when a row changes
 * (LISTEN sip_sources, migration 030). When PostgreSQL (or a gateway's DNS) fails, the last good entries stay: an
 * outage never opens the door nor shuts the trunks out. Needs only a pool, so an edge process can run it alone.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Pool, PoolClient } from '../db/pool.js';
import { gatewaySources, listenSources, trunkSources } from '../store/network.js';
import type { Logger } from '../util/logger.js';
import type { SourceAllowList } from './sources.js';

/** One named part of the list and how to read it. More parts (media servers) are added to SOURCE_GROUPS. */
export interface SourceGroup {
  name: string;
  /** Entries: IPv4 addresses, CIDR networks, or host names (resolved by the refresher). */
  load(pool: Pool): Promise<string[]>;
}

const SOURCE_GROUPS: readonly SourceGroup[] = [
  { name: 'trunks', load: trunkSources },
  { name: 'gateways', load: gatewaySources },
];

export type Resolve = (host: string) => Promise<string[]>;

const resolveA: Resolve = async (host) => (await lookup(host, { all: true, family: 4 })).map((a) => a.address);

/**
 * Reads every group once and returns its entries with host names resolved. A name that does not resolve keeps
 * the addresses it had in `previous` (and is reported in `unresolved`).
 */
export async function loadSources(pool: Pool, groups: readonly SourceGroup[] = SOURCE_GROUPS, resolve: Resolve = resolveA,
  previous: Map<string, string[]> = new Map()): Promise<{ groups: Record<string, string[]>; resolved: Map<string, string[]>; unresolved: string[] }> {
  const out: Record<string, string[]> = {};
  const resolved = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const g of groups) {
    const entries: string[] = [];
    for (const e of await g.load(pool)) {
      if (isIP(e.split('/')[0]!) !== 0) { entries.push(e); continue; }
      try {
        const addrs = await resolve(e);
        resolved.set(e, addrs);
        entries.push(...addrs);
      } catch {
        unresolved.push(e);
        const last = previous.get(e) ?? [];
        if (last.length > 0) resolved.set(e, last);
        entries.push(...last);
      }
    }
    out[g.name] = [...new Set(entries)].sort();
  }
  return { groups: out, resolved, unresolved };
}

export interface SourceRefresh {
  /** Read PostgreSQL now; rejects (keeping the list) when it cannot. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSourceRefresh(o: {
  pool: Pool; list: SourceAllowList; logger: Logger; intervalMs: number; groups?: readonly SourceGroup[]; resolve?: Resolve;
}): Promise<SourceRefresh> {
  const log = o.logger.child({ component: 'sip-sources' });
  let names = new Map<string, string[]>();
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let failing = false;

  const once = async (): Promise<void> => {
    const r = await loadSources(o.pool, o.groups, o.resolve, names);
    names = r.resolved;
    const before = JSON.stringify(o.list.snapshot());
    for (const [group, entries] of Object.entries(r.groups)) {
      const ignored = o.list.set(group, entries);
      if (ignored.length > 0) log.warn({ group, ignored }, 'SIP source entries ignored: the edge takes IPv4 hosts and networks only');
    }
    if (r.unresolved.length > 0) log.warn({ hosts: r.unresolved }, 'gateway host names did not resolve; keeping their last addresses');
    const now = o.list.snapshot();
    if (JSON.stringify(now) !== before) log.info({ counts: Object.fromEntries(Object.entries(now).map(([g, e]) => [g, e.length])) }, 'SIP source allow-list loaded');
    if (failing) log.info('SIP source allow-list reloaded after a failure');
    failing = false;
  };

  /** One reload at a time; a change notified meanwhile runs one more. */
  const reload = (): Promise<void> => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await once(); } while (again && !stopped);
      } finally { running = null; }
    })();
    return running;
  };
  const background = (): void => {
    reload().catch((err: unknown) => {
      if (!failing) log.warn({ err: (err as Error).message }, 'cannot reload the SIP source allow-list; keeping the last good one');
      failing = true;
    });
  };

  await reload();

  let listener: PoolClient | null = null;
  let dropListener: (destroy: boolean) => void = () => undefined;
  const listen = async (): Promise<void> => {
    if (listener || stopped) return;
    let drop: ((destroy: boolean) => void) | undefined;
    try {
      const c = await o.pool.connect();
      // a client goes back to the pool once: its 'error' may fire more than once, or after stop() released it
      let released = false;
      drop = (destroy: boolean): void => {
        if (released) return;
        released = true;
        if (listener === c) listener = null;
        c.release(destroy);
      };
      const dropThis = drop;
      c.on('notification', background);
      c.on('error', () => dropThis(true));
      await listenSources(c, true);
      listener = c;
      dropListener = dropThis;
      if (stopped) dropThis(true);
    } catch (err) {
      drop?.(true);
      log.debug({ err: (err as Error).message }, 'cannot LISTEN for SIP source changes; retrying at the next refresh');
    }
  };
  await listen();
  const timer = setInterval(() => {
    background();
    void listen();
  }, o.intervalMs);
  timer.unref();

  return {
    reload,
    async stop() {
      stopped = true;
      clearInterval(timer);
      const c = listener;
      if (c) {
        await listenSources(c, false).catch(() => undefined);
        // destroyed, not pooled: its 'error' and 'notification' handlers would stay on a pooled client
        dropListener(true);
      }
      await running?.catch(() => undefined);
    },
  };
}
