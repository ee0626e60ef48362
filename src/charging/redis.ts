/**
 * The Redis connection of the charging engine: ioredis with every charging Lua script defined once via
 * defineCommand (lib.lua is prepended to each so all scripts share one rating/ordering implementation).
 * Key layout (after the connection's keyPrefix) is in keys.ts.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { projectPath } from '../util/paths.js';

type Arg = string | number;
type Reply = (string | number)[];

export interface ChargingCommands {
  chargeCredit(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: Arg[]): Promise<number>;
  chargeLoad(k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, ...argv: Arg[]): Promise<number>;
  chargeExpire(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: Arg[]): Promise<number>;
  chargeAuthorize(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeExtend(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeAnswer(k1: string, k2: string, ...argv: Arg[]): Promise<number>;
  chargeSettle(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeRecord(...keysAndArgs: Arg[]): Promise<Reply>;
}

export type ChargingRedis = Redis & ChargingCommands & { readonly keyPrefix: string };

/** script file → [command name, number of KEYS] */
const SCRIPTS: readonly [string, keyof ChargingCommands, number][] = [
  ['credit.lua', 'chargeCredit', 5],
  ['load.lua', 'chargeLoad', 6],
  ['authorize.lua', 'chargeAuthorize', 9],
  ['extend.lua', 'chargeExtend', 8],
  ['answer.lua', 'chargeAnswer', 2],
  ['settle.lua', 'chargeSettle', 7],
  ['record.lua', 'chargeRecord', 5],
  ['expire.lua', 'chargeExpire', 5],
];

let sources: Map<string, string> | undefined;
function scriptSources(): Map<string, string> {
  if (sources) return sources;
  const lib = readFileSync(projectPath('src', 'charging', 'lua', 'lib.lua'), 'utf8');
  sources = new Map(SCRIPTS.map(([file]) => [file, lib + '\n' + readFileSync(projectPath('src', 'charging', 'lua', file), 'utf8')]));
  return sources;
}

/** Define the charging scripts on an existing ioredis connection (used by createChargingRedis and duplicates). */
export function defineChargingCommands(redis: Redis): void {
  const src = scriptSources();
  for (const [file, name, numberOfKeys] of SCRIPTS) redis.defineCommand(name, { numberOfKeys, lua: src.get(file)! });
}

/**
 * A charging Redis connection. Commands fail fast while Redis is unreachable (no offline queue, one retry) so
 * that authorize can answer store_down at once instead of waiting; the connection keeps reconnecting.
 */
export function createChargingRedis(url: string, keyPrefix: string, opts: RedisOptions = {}): ChargingRedis {
  const redis = new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    ...opts,
  });
  // connection errors are reported by the commands that fail; an unhandled 'error' event must not crash us
  redis.on('error', () => undefined);
  defineChargingCommands(redis);
  Object.defineProperty(redis, 'keyPrefix', { value: keyPrefix, enumerable: false });
  return redis as ChargingRedis;
}

/** Wait until the connection is ready (enableOfflineQueue is off, so the first command needs a live link). */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
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
