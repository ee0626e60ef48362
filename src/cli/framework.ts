/**
 * The CLI framework: command specs, argument parsing, the run context (config, PostgreSQL, Redis opened lazily),
 * output as text or --json, and the error → exit-code policy (bad input: message on stderr, exit 2; anything else:
 * exit 1). Every command gets --help and --json from here.
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ChargingRedis } from '../charging/redis.js';
import type { Actor, ServiceDeps } from '../services/context.js';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type OptionType = 'string' | 'bool' | 'int';

interface OptionSpec {
  name: string; // without the leading --
  type: OptionType;
  doc: string;
  required?: boolean;
  values?: readonly string[]; // allowed values of a string option
}

interface PositionalSpec {
  name: string;
  doc: string;
  required: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  opts: Record<string, string | boolean | number | undefined>;
}

export interface CliContext {
  config: Config;
  pool(): Pool;
  /** The charging Redis, or null with the reason when it cannot be reached (PostgreSQL work goes on). */
  redis(): Promise<{ redis: ChargingRedis | null; error: string | null }>;
  /** What the service operations (src/services) run with; opens PostgreSQL on first use. */
  services(): ServiceDeps;
  /** Who runs the command: kind 'cli', id the OS user (audited with every write). */
  actor: Actor;
  /** Progress for long work: stderr, never stdout (stdout is the command's result). */
  progress(message: string): void;
  /** Stream raw output (exports) instead of a result object. */
  write(chunk: string): Promise<void>;
}

export interface CommandResult {
  json: unknown; // printed with --json (bigint as string, Date as ISO); undefined when the command streamed its output
  text: string; // printed otherwise; '' prints nothing
}

export interface CommandSpec {
  path: string[]; // e.g. ['tenant', 'create']
  summary: string;
  positionals?: PositionalSpec[];
  options?: OptionSpec[];
  examples?: string[];
  run(ctx: CliContext, args: ParsedArgs): Promise<CommandResult>;
}

const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'bool', doc: 'print the result as JSON' },
  { name: 'help', type: 'bool', doc: 'show this help' },
];

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const options = [...(spec.options ?? []), ...GLOBAL_OPTIONS];
  const byName = new Map(options.map((o) => [o.name, o]));
  const out: ParsedArgs = { positionals: [], opts: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const o = byName.get(name);
    if (!o) throw new UsageError(`unknown option --${name} for "${spec.path.join(' ')}" (see --help)`);
    if (o.type === 'bool') {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      out.opts[name] = true;
      continue;
    }
    let v: string | undefined;
    if (eq > 0) v = a.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (o.type === 'int') {
      if (!/^-?\d{1,15}$/.test(v)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(v)}`);
      out.opts[name] = Number(v);
    } else {
      if (o.values && !o.values.includes(v)) throw new UsageError(`--${name} must be one of ${o.values.join(', ')}, got ${JSON.stringify(v)}`);
      out.opts[name] = v;
    }
  }
  if (out.opts.help) return out;
  for (const o of spec.options ?? []) if (o.required && out.opts[o.name] === undefined) throw new UsageError(`missing required option --${o.name} (${o.doc})`);
  const pos = spec.positionals ?? [];
  const required = pos.filter((p) => p.required).length;
  if (out.positionals.length < required) throw new UsageError(`missing argument <${pos[out.positionals.length]!.name}> (${pos[out.positionals.length]!.doc})`);
  if (out.positionals.length > pos.length) throw new UsageError(`unexpected argument ${JSON.stringify(out.positionals[pos.length])}`);
  return out;
}

export function helpText(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)).join(' ');
  const lines = [`softswitch ${spec.path.join(' ')}${pos ? ' ' + pos : ''} [options]`, '', spec.summary, ''];
  if (spec.positionals?.length) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(24)} ${p.doc}${p.required ? '' : ' (optional)'}`);
    lines.push('');
  }
  lines.push('Options:');
  for (const o of [...(spec.options ?? []), ...GLOBAL_OPTIONS]) {
    const flag = `--${o.name}${o.type === 'bool' ? '' : o.type === 'int' ? ' N' : o.values ? ` ${o.values.join('|')}` : ' VALUE'}`;
    lines.push(`  ${flag.padEnd(24)} ${o.doc}${o.required ? ' (required)' : ''}`);
  }
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** JSON with bigint as decimal strings and Dates as ISO strings. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2);
}

// ------------------------------------------------------------------------------------------------ option readers

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.opts[name];
  return typeof v === 'string' ? v : undefined;
}

export function reqStr(args: ParsedArgs, name: string): string {
  const v = str(args, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function int(args: ParsedArgs, name: string, dflt: number, min: number, max: number): number {
  const v = args.opts[name];
  const n = typeof v === 'number' ? v : dflt;
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.opts[name] === true;
}

/** An ISO-8601 timestamp with a zone (Z or ±hh:mm), or a date YYYY-MM-DD (midnight UTC). */
export function date(args: ParsedArgs, name: string): Date | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  return parseDate(v, `--${name}`);
}

function parseDate(v: string, what: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(v)) {
    throw new UsageError(`${what} must be an ISO date (YYYY-MM-DD) or timestamp with zone (2026-01-31T10:00:00+08:00), got ${JSON.stringify(v)}`);
  }
  const d = new Date(v.length === 10 ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${what} is not a real date: ${JSON.stringify(v)}`);
  return d;
}
