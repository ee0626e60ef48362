/**
 * `softswitch` CLI entry: finds the command in the registry (commands/index.ts), parses its options, runs it with
 * a context holding the config and lazily opened PostgreSQL/Redis, prints text or --json, and exits:
 * 0 ok, 2 bad input (usage, rule or ledger refusal, bad config), 1 anything else (e.g. database down).
 */
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createPool, type Pool } from '../db/pool.js';
import { createChargingRedis, waitReady, type ChargingRedis } from '../charging/redis.js';
import { LedgerError } from '../ledger/ledger.js';
import { RuleError } from '../tenants/rules.js';
import { COMMANDS } from './commands/index.js';
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

function makeContext(config: Config, resources: { pool?: Pool; redis?: ChargingRedis }): CliContext {
  let redisResult: Promise<{ redis: ChargingRedis | null; error: string | null }> | undefined;
  return {
    config,
    pool() {
      resources.pool ??= createPool(config.postgres.url, 4);
      return resources.pool;
    },
    redis() {
      redisResult ??= (async () => {
        const r = createChargingRedis(config.redis.url, config.redis.keyPrefix, { connectTimeout: REDIS_CONNECT_TIMEOUT_MS });
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
      process.stderr.write(message + '\n');
    },
    write(chunk: string) {
      return new Promise<void>((resolve, reject) => {
        if (process.stdout.write(chunk)) resolve();
        else process.stdout.once('drain', resolve).once('error', reject);
      });
    },
  };
}

export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const fail = (code: number, e: unknown): number => {
    const message = e instanceof Error ? e.message : String(e);
    const detail = e instanceof UsageError ? e.detail : {};
    if (json) process.stderr.write(toJson({ error: message, code: (e as { code?: unknown }).code ?? (e as Error).name ?? 'Error', ...detail }) + '\n');
    else process.stderr.write(`softswitch: ${message}\n`);
    return code;
  };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    process.stdout.write(globalHelp() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
    if (group.length && (argv[1] === undefined || argv[1] === '--help')) {
      process.stdout.write(`softswitch ${argv[0]}: ${group.map((c) => c.path.slice(1).join(' ')).join(' | ')} (each with --help)\n`);
      return argv[1] === '--help' ? 0 : 2;
    }
    return fail(2, new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"; run softswitch --help`));
  }
  const resources: { pool?: Pool; redis?: ChargingRedis } = {};
  try {
    const args = parseArgs(found.spec, found.rest);
    if (args.opts.help) {
      process.stdout.write(helpText(found.spec) + '\n');
      return 0;
    }
    const config = loadConfig();
    const result = await found.spec.run(makeContext(config, resources), args);
    if (json && result.json !== undefined) process.stdout.write(toJson(result.json) + '\n');
    else if (result.text) process.stdout.write(result.text + '\n');
    return 0;
  } catch (e) {
    if (isBadInput(e)) return fail(2, e);
    return fail(1, e);
  } finally {
    await resources.pool?.end().catch(() => undefined);
    resources.redis?.disconnect();
  }
}

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`softswitch: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
