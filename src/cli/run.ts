/**
 * The `softswitch` CLI: finds the command in the registry (commands/index.ts), parses its options, runs it with
 * a context holding the config and lazily opened PostgreSQL/Redis, prints text or --json, and exits:
 * 0 ok, 2 bad input (usage, rule or ledger refusal, bad config), 1 anything else (e.g. database down).
 */
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createPool, type Pool } from '../db/pool.js';
import { createChargingRedis, waitReady, type ChargingRedis } from '../charging/redis.js';
import { LedgerError } from '../ledger/errors.js';
import { RuleError } from '../tenants/rules.js';
import type { ServiceDeps } from '../services/context.js';
import { COMMANDS } from './commands/index.js';
import { cliActor } from './commands/shared.js';
import { helpText, parseArgs, toJson, UsageError, type CliContext, type CommandSpec } from './framework.js';

const REDIS_CONNECT_TIMEOUT_MS = 2000;

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length)) + 2;
  return [
    'softswitch <command> [options]      (every command: --help, --json)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)} ${c.summary.split('\n')[0]}`),
    '',
    'Configuration comes from config/default.json and environment variables (see README, Configuration).',
  ].join('\n');
}

function findCommand(argv: string[]): { spec: CommandSpec; rest: string[] } | null {
  let best: CommandSpec | null = null;
  for (const c of COMMANDS) {
    if (c.path.every((p, i) => argv[i] === p) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { spec: best, rest: argv.slice(best.path.length) } : null;
}

function isBadInput(e: unknown): boolean {
  return e instanceof UsageError || e instanceof RuleError || e instanceof LedgerError || e instanceof ConfigError || e instanceof RangeError;
}

/** Where the CLI writes and what environment it reads (process streams in production; buffers in tests). */
interface CliIo {
  stdout: { write(chunk: string): boolean; once(event: 'drain', fn: () => void): unknown };
  stderr: { write(chunk: string): boolean };
  env?: Record<string, string | undefined>; // undefined: the process environment (read by loadConfig)
}

function makeContext(config: Config, resources: { pool?: Pool; redis?: ChargingRedis }, io: CliIo): CliContext {
  let redisResult: Promise<{ redis: ChargingRedis | null; error: string | null }> | undefined;
  let services: ServiceDeps | undefined;
  const ctx: CliContext = {
    actor: cliActor(),
    services() {
      services ??= {
        config,
        pool: ctx.pool(),
        redis: () => ctx.redis(),
        // operations log warnings only; stderr keeps stdout for the command's result
        logger: pino({ level: 'warn' }, pino.destination(2)),
        now: () => new Date(),
      };
      return services;
    },
    config,
    pool() {
      resources.pool ??= createPool(config.postgres.url, 4);
      return resources.pool;
    },
    redis() {
      redisResult ??= (async () => {
        const r = createChargingRedis(config.redis, { connectTimeout: REDIS_CONNECT_TIMEOUT_MS });
        resources.redis = r;
        try {
          await waitReady(r, REDIS_CONNECT_TIMEOUT_MS);
          return { redis: r, error: null };
        } catch (e) {
          r.disconnect();
          return { redis: null, error: (e as Error).message };
        }
      })();
      return redisResult;
    },
    progress(message: string) {
      io.stderr.write(message + '\n');
    },
    write(chunk: string) {
      return new Promise<void>((resolve) => {
        if (io.stdout.write(chunk)) resolve();
        else io.stdout.once('drain', resolve);
      });
    },
  };
  return ctx;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const fail = (code: number, e: unknown): number => {
    const message = e instanceof Error ? e.message : String(e);
    const detail = e instanceof UsageError ? e.detail : {};
    if (json) io.stderr.write(toJson({ error: message, code: (e as { code?: unknown }).code ?? (e as Error).name ?? 'Error', ...detail }) + '\n');
    else io.stderr.write(`softswitch: ${message}\n`);
    return code;
  };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    io.stdout.write(globalHelp() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
    if (group.length && (argv[1] === undefined || argv[1] === '--help')) {
      io.stdout.write(`softswitch ${argv[0]}: ${group.map((c) => c.path.slice(1).join(' ')).join(' | ')} (each with --help)\n`);
      return argv[1] === '--help' ? 0 : 2;
    }
    return fail(2, new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"; run softswitch --help`));
  }
  const resources: { pool?: Pool; redis?: ChargingRedis } = {};
  try {
    const args = parseArgs(found.spec, found.rest);
    if (args.opts.help) {
      io.stdout.write(helpText(found.spec) + '\n');
      return 0;
    }
    const config = loadConfig(io.env);
    const result = await found.spec.run(makeContext(config, resources, io), args);
    if (json && result.json !== undefined) io.stdout.write(toJson(result.json) + '\n');
    else if (result.text) io.stdout.write(result.text + '\n');
    return 0;
  } catch (e) {
    if (isBadInput(e)) return fail(2, e);
    return fail(1, e);
  } finally {
    await resources.pool?.end().catch(() => undefined);
    resources.redis?.disconnect();
  }
}

