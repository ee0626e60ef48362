/**
 * The Redis connection of the charging engine, in the topology REDIS_MODE names: one server (standalone), a master
 * found through Sentinel (ioredis's Sentinel support), or Redis Cluster (ioredis's Cluster client). Every Lua script
 * of the product is defined on it as a command by the one loader (scripts.ts). The connection carries its key
 * layout (keys.ts, REDIS_SHARDS shards) so every module builds the same key names; topology, key layout and failure
 * costs: docs/scaling.md.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../config/config.js';
import { metrics } from '../observability/metrics.js';
import { keyLayout, type KeyLayout } from './keys.js';
import { defineScripts, type ScriptCommands } from './scripts.js';

type Arg = string | number;

/** A connection in any topology. Both classes have the same command methods; the few members that differ
 * (duplicate, SCAN over all masters) are reached through the helpers below. */
export type RedisClient = Redis | Cluster;
export type RedisSettings = Config['redis'];

export type ChargingRedis = RedisClient & ScriptCommands & {
  readonly keyPrefix: string;
  /** the key layout every module uses with this connection (REDIS_SHARDS shards) */
  readonly layout: KeyLayout;
  /** how it was made (duplicates are made the same way) */
  readonly settings: RedisSettings;
  /** replicas a charging step must reach before the app acts on it (REDIS_WAIT_REPLICAS resolved; 0 = no WAIT) */
  readonly waitReplicas: number;
};

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

/** REDIS_WAIT_REPLICAS resolved: -1 means 0 on a standalone server (it has no replica to wait for), 1 otherwise. */
function effectiveWaitReplicas(s: RedisSettings): number {
  return s.waitReplicas >= 0 ? s.waitReplicas : s.mode === 'standalone' ? 0 : 1;
}

/**
 * A plain connection in the configured topology, with the key prefix. `opts` are per-connection ioredis options
 * (offline queue, retries, timeouts); in cluster mode they apply to the cluster client and its node connections.
 */
function openRedis(s: RedisSettings, opts: RedisOptions = {}): RedisClient {
  const base: RedisOptions = { keyPrefix: s.keyPrefix, ...opts };
  if (s.mode === 'cluster') {
    const { enableOfflineQueue, retryStrategy, maxRetriesPerRequest, ...node } = base;
    const o: ClusterOptions = {
      enableOfflineQueue: enableOfflineQueue ?? true,
      // a failover takes cluster-node-timeout plus an election: keep asking for the new slot map meanwhile
      clusterRetryStrategy: (times) => (retryStrategy === null ? null : Math.min(100 + times * 50, 1000)),
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      redisOptions: { ...node, maxRetriesPerRequest, ...(s.password ? { password: s.password } : {}) },
    };
    return new Cluster(s.clusterNodes.map(hostPort), o);
  }
  if (s.mode === 'sentinel') {
    return new Redis({ ...base, sentinels: s.sentinels.map(hostPort), name: s.sentinelMaster, ...(s.password ? { password: s.password } : {}) });
  }
  return new Redis(s.url, base);
}

/**
 * Another connection like `redis` (same topology, prefix and options, `opts` on top), e.g. for a blocking reader or
 * a subscriber. The scripts defined on `redis` are not copied.
 */
export function duplicateConnection(redis: RedisClient, opts: RedisOptions = {}): RedisClient {
  let c: RedisClient;
  if (isCluster(redis)) {
    const { enableOfflineQueue, retryStrategy, ...node } = opts;
    c = redis.duplicate([], {
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(retryStrategy === null ? { clusterRetryStrategy: () => null } : {}),
      redisOptions: node,
    });
  } else c = redis.duplicate(opts);
  c.on('error', () => undefined); // failures surface through the commands that fail
  return c;
}

/**
 * Every master's own connection, for commands that act on one node's keyspace (SCAN). A standalone or Sentinel
 * connection is its own single master.
 */
export function masterNodes(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes('master') : [redis];
}

/**
 * A charging Redis connection. Commands fail fast while Redis is unreachable (no offline queue, one retry) so
 * that authorize can answer store_down at once instead of waiting; the connection keeps reconnecting.
 */
export function createChargingRedis(s: RedisSettings, opts: RedisOptions = {}): ChargingRedis {
  const redis = openRedis(s, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    ...opts,
  });
  // connection errors are reported by the commands that fail; an unhandled 'error' event must not crash us
  redis.on('error', () => undefined);
  defineScripts(redis);
  Object.defineProperties(redis, {
    keyPrefix: { value: s.keyPrefix, enumerable: false },
    layout: { value: keyLayout(s.shards), enumerable: false },
    settings: { value: s, enumerable: false },
    waitReplicas: { value: effectiveWaitReplicas(s), enumerable: false },
  });
  return redis as ChargingRedis;
}

/**
 * Count master changes (failovers) seen by this connection in softswitch_redis_failovers_total: in cluster mode a
 * shard whose slot is served by another master after a slot refresh; otherwise the connection coming back ready
 * on another address (Sentinel handed it the new master). Returns a function that stops watching.
 */
export function watchFailovers(redis: ChargingRedis, onFailover?: (detail: { from: string; to: string }) => void): () => void {
  const seen = (from: string, to: string) => {
    metrics.redisFailovers.inc();
    onFailover?.({ from, to });
  };
  if (isCluster(redis)) {
    const slots = redis.layout.all().map((k) => clusterSlot(`${redis.keyPrefix}${redis.layout.tag(k)}`));
    let masters: (string | undefined)[] = [];
    const refresh = () => {
      const now = slots.map((slot) => (redis.slots[slot] as string[] | undefined)?.[0]);
      const moved = new Map<string, string>();
      now.forEach((m, i) => {
        const before = masters[i];
        if (before && m && before !== m) moved.set(before, m);
      });
      for (const [from, to] of moved) seen(from, to);
      if (now.every(Boolean)) masters = now;
    };
    // the slot map the connection already has is the baseline: a failover before the next refresh is then seen too
    refresh();
    redis.on('refresh', refresh);
    return () => redis.off('refresh', refresh);
  }
  let address: string | null = null;
  const ready = () => {
    const sock = (redis as Redis).stream as { remoteAddress?: string; remotePort?: number } | undefined;
    const now = sock?.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : null;
    if (address && now && now !== address) seen(address, now);
    if (now) address = now;
  };
  redis.on('ready', ready);
  if (redis.status === 'ready') ready();
  return () => redis.off('ready', ready);
}

/** CRC16 slot of a key (Redis Cluster spec: the hash tag between the first { and the next } when non-empty). */
export function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const b of Buffer.from(key, 'utf8')) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Wait until the connection is ready (enableOfflineQueue is off, so the first command needs a live link). */
export async function waitReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      redis.off('ready', ok);
      reject(new Error(`redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const ok = () => {
      clearTimeout(t);
      resolve();
    };
    redis.once('ready', ok);
  });
}

/** The money-moving steps (durably replicated before the app acts on them). */
type DurableStep = 'chargeAuthorize' | 'chargeExtend' | 'chargeAnswer' | 'chargeSettle' | 'chargeRecord' | 'chargeRefund';

/**
 * Run a money-moving charging script and, when replicas are configured, WAIT in the same round trip until that many
 * replicas have it (a pipeline goes to the one node that serves the script's slot, so the WAIT covers this write).
 * The app acts on the reply only after that, so an acknowledged reservation or settlement survives the loss of the
 * master. A replica that does not confirm within REDIS_WAIT_TIMEOUT_MS leaves the step on the master alone: it
 * stands (the master is alive), and softswitch_redis_unreplicated_steps_total{step} counts it (docs/scaling.md).
 */
export async function durably<N extends DurableStep>(redis: ChargingRedis, step: string, name: N, ...args: Parameters<ScriptCommands[N]>): Promise<Awaited<ReturnType<ScriptCommands[N]>>> {
  type R = Awaited<ReturnType<ScriptCommands[N]>>;
  const fn = redis[name] as (...a: Arg[]) => Promise<R>;
  if (redis.waitReplicas === 0) return fn.apply(redis, args as Arg[]);
  const p = redis.pipeline() as unknown as Record<N, (...a: Arg[]) => unknown> & { wait(n: number, ms: number): unknown; exec(): Promise<[Error | null, unknown][] | null> };
  p[name](...(args as Arg[]));
  p.wait(redis.waitReplicas, redis.settings.waitTimeoutMs);
  const out = await p.exec();
  if (!out) throw new Error(`${step}: pipeline was discarded`);
  const [err, reply] = out[0]!;
  if (err) throw err;
  const [werr, acked] = out[1]!;
  // the link dropped after the script ran: whether it reached a replica is unknown; callers treat it as a failed
  // step (authorize refuses, extend re-reads the grant at finish, settle is replayed: all idempotent)
  if (werr) throw werr;
  if (Number(acked) < redis.waitReplicas) metrics.redisUnreplicatedSteps.inc({ step });
  return reply as R;
}
