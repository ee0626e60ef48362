import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { helpText, parseArgs, UsageError, type CommandSpec } from '../../src/cli/framework.js';

const spec: CommandSpec = {
  path: ['x', 'y'],
  summary: 's',
  positionals: [{ name: 'file', doc: 'f', required: true }],
  options: [
    { name: 'n', type: 'int', doc: 'n' },
    { name: 'mode', type: 'string', values: ['a', 'b'], doc: 'm', required: true },
    { name: 'flag', type: 'bool', doc: 'f' },
  ],
  run: async () => ({ json: null, text: '' }),
};

describe('CLI framework', () => {
  it('parses options in both spellings, flags and positionals', () => {
    expect(parseArgs(spec, ['f.csv', '--n', '5', '--mode=b', '--flag', '--json'])).toEqual({
      positionals: ['f.csv'], opts: { n: 5, mode: 'b', flag: true, json: true },
    });
    expect(parseArgs(spec, ['--mode', 'a', '--', '--weird-file'])).toEqual({ positionals: ['--weird-file'], opts: { mode: 'a' } });
  });
  it('refuses bad input with UsageError', () => {
    expect(() => parseArgs(spec, ['f', '--mode', 'c'])).toThrow(/--mode must be one of a, b/);
    expect(() => parseArgs(spec, ['f', '--mode', 'a', '--n', '1.5'])).toThrow(/--n must be an integer/);
    expect(() => parseArgs(spec, ['f', '--mode'])).toThrow(/--mode needs a value/);
    expect(() => parseArgs(spec, ['f'])).toThrow(/missing required option --mode/);
    expect(() => parseArgs(spec, ['--mode', 'a'])).toThrow(/missing argument <file>/);
    expect(() => parseArgs(spec, ['f', '--mode', 'a', '--flag=1'])).toThrow(UsageError);
    expect(parseArgs(spec, ['--help']).opts.help).toBe(true); // --help skips the required checks
  });
  it('every registered command has a unique path, a summary and help listing --json and --help', () => {
    const paths = COMMANDS.map((c) => c.path.join(' '));
    expect(new Set(paths).size).toBe(paths.length);
    for (const c of COMMANDS) {
      expect(c.summary.length).toBeGreaterThan(5);
      const h = helpText(c);
      expect(h).toContain(`softswitch ${c.path.join(' ')}`);
      expect(h).toMatch(/--json/);
      expect(h).toMatch(/--help/);
    }
    expect(paths).toEqual(expect.arrayContaining(['migrate', 'tenant create', 'tenant list', 'tenant show', 'tenant suspend', 'tenant resume',
      'order create', 'number add', 'number approve', 'number suspend', 'top-up', 'rates import', 'rates export', 'balance show', 'cdr list',
      'cdr export', 'demo seed']));
  });
});
