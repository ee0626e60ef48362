/**
 * Every Redis Lua script of the product, and the one loader that defines them as commands (`defineCommand`): the
 * charging steps (src/charging/lua), the SIP limits (src/sip/lua), the outbox (src/outbox/lua) and reconciliation
 * (src/reconcile/lua). The table below is the one place where a script's file and its number of KEYS are declared;
 * each script's header states its keys, args, units and invariants, with KEYS/ARGV named as locals at its top
 * (test/unit/lua-scripts.test.ts checks the header, the locals and this table agree).
 *
 * This module sits at the bottom of the Redis layer: it imports nothing of charging, sip, outbox or reconcile (the
 * scripts are files read by path, not modules), so each of those layers can use it without reaching up.
 */
import { readFileSync } from 'node:fs';
import { projectPath } from '../util/paths.js';

type Arg = string | number;
type Reply = (string | number)[];

/** The commands the scripts become on a connection (names as passed to defineCommand). */
export interface ScriptCommands {
  // charging (src/charging/lua; lib.lua prepended)
  chargeCredit(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: Arg[]): Promise<number>;
  chargeLoad(k1: string, k2: string, k3: string, k4: string, k5: string, k6: string, ...argv: Arg[]): Promise<number>;
  chargeExpire(k1: string, k2: string, k3: string, k4: string, k5: string, ...argv: Arg[]): Promise<number>;
  chargeAuthorize(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeExtend(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeAnswer(k1: string, k2: string, ...argv: Arg[]): Promise<number>;
  chargeSettle(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeRecord(...keysAndArgs: Arg[]): Promise<Reply>;
  chargeRefund(...keysAndArgs: Arg[]): Promise<Reply>;
  // SIP limits (src/sip/lua)
  sipAdmit(calls: string, cps: string, callId: string, now: number, leaseMs: number, maxConc: number, maxCps: number): Promise<'ok' | 'cps' | 'concurrency'>;
  // outbox (src/outbox/lua)
  outboxAck(outbox: string, acked: string, ...argv: Arg[]): Promise<number>;
  outboxDead(outbox: string, dead: string, acked: string, ...argv: Arg[]): Promise<number>;
  outboxTrim(outbox: string, acked: string, ...argv: Arg[]): Promise<number>;
  outboxReplay(dead: string, outbox: string, deadId: string): Promise<string | null>;
  // reconciliation (src/reconcile/lua)
  reconcileSnapshot(leases: string, outbox: string, acked: string, ...argv: Arg[]): Promise<unknown>;
  reconcileRepair(tenant: string, buckets: string, meta: string, credits: string, expiries: string, ...argv: Arg[]): Promise<string[]>;
}

export type ScriptName = keyof ScriptCommands;

export interface ScriptSpec {
  /** path of the .lua file under src/ */
  readonly file: string;
  /** how many of the command's arguments are KEYS (the rest is ARGV) */
  readonly numberOfKeys: number;
  /** lib.lua (rating, bucket order, holds, call events) is prepended */
  readonly lib: boolean;
}

/** command name → file, number of KEYS, whether lib.lua is prepended. */
export const SCRIPTS: { readonly [N in ScriptName]: ScriptSpec } = {
  chargeCredit: { file: 'charging/lua/credit.lua', numberOfKeys: 5, lib: true },
  chargeLoad: { file: 'charging/lua/load.lua', numberOfKeys: 6, lib: true },
  chargeAuthorize: { file: 'charging/lua/authorize.lua', numberOfKeys: 9, lib: true },
  chargeExtend: { file: 'charging/lua/extend.lua', numberOfKeys: 8, lib: true },
  chargeAnswer: { file: 'charging/lua/answer.lua', numberOfKeys: 2, lib: true },
  chargeSettle: { file: 'charging/lua/settle.lua', numberOfKeys: 7, lib: true },
  chargeRecord: { file: 'charging/lua/record.lua', numberOfKeys: 5, lib: true },
  chargeExpire: { file: 'charging/lua/expire.lua', numberOfKeys: 5, lib: true },
  chargeRefund: { file: 'charging/lua/refund.lua', numberOfKeys: 6, lib: true },
  sipAdmit: { file: 'sip/lua/admit.lua', numberOfKeys: 2, lib: false },
  outboxAck: { file: 'outbox/lua/ack.lua', numberOfKeys: 2, lib: false },
  outboxDead: { file: 'outbox/lua/dead.lua', numberOfKeys: 3, lib: false },
  outboxTrim: { file: 'outbox/lua/trim.lua', numberOfKeys: 2, lib: false },
  outboxReplay: { file: 'outbox/lua/replay.lua', numberOfKeys: 2, lib: false },
  reconcileSnapshot: { file: 'reconcile/lua/snapshot.lua', numberOfKeys: 3, lib: false },
  reconcileRepair: { file: 'reconcile/lua/repair.lua', numberOfKeys: 5, lib: false },
};

const LIB = 'charging/lua/lib.lua';

const read = (file: string): string => readFileSync(projectPath('src', ...file.split('/')), 'utf8');

let sources: Map<ScriptName, string> | undefined;
/** The text each command runs (lib.lua in front where the table says so); read once per process. */
function scriptSource(name: ScriptName): string {
  if (!sources) {
    const lib = read(LIB);
    sources = new Map(Object.entries(SCRIPTS).map(([n, s]) => [n as ScriptName, s.lib ? lib + '\n' + read(s.file) : read(s.file)]));
  }
  return sources.get(name)!;
}

/** What defineScripts needs of a connection (ioredis Redis and Cluster both have it). */
export interface Scriptable {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
}

const defined = new WeakSet<Scriptable>();

/**
 * Define every script as a command on the connection, once per connection (a second call is a no-op, so a command
 * wrapped by a test stays wrapped). ioredis sends EVALSHA and loads a script on a node the first time it is missing.
 */
export function defineScripts<R extends Scriptable>(redis: R): R & ScriptCommands {
  if (!defined.has(redis)) {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      redis.defineCommand(name, { numberOfKeys: SCRIPTS[name].numberOfKeys, lua: scriptSource(name) });
    }
    defined.add(redis);
  }
  return redis as R & ScriptCommands;
}
