/**
 * The real Prometheus rule checker on the real rule files: `promtool check rules` on deploy/prometheus/*.yml rule
 * files and `promtool test rules` on the alert unit tests in deploy/prometheus/tests/. promtool comes from Debian's
 * `prometheus` package, which scripts/services.sh (the pretest hook) installs when it is missing.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../src/util/paths.js';

const run = promisify(execFile);
const prom = (...p: string[]) => projectPath('deploy', 'prometheus', ...p);
const RULE_FILES = ['recording.yml', 'alerts.yml'];
const UNIT_TESTS = readdirSync(prom('tests')).filter((f) => f.endsWith('.test.yml')).sort();

async function promtool(args: string[], cwd?: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run('promtool', args, { cwd, timeout: 60_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error('promtool is not installed: run `npm run services` (installs Debian package prometheus)');
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe('promtool on deploy/prometheus', () => {
  it('check rules: every recording and alert rule file is valid', async () => {
    const r = await promtool(['check', 'rules', ...RULE_FILES.map((f) => prom(f))]);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.code, r.out).toBe(0);
    expect(r.out.match(/SUCCESS: \d+ rules found/g)).toHaveLength(RULE_FILES.length);
  });

  it('check rules refuses a broken rule (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    tmp.push(dir);
    writeFileSync(join(dir, 'bad.yml'), 'groups:\n  - name: bad\n    rules:\n      - alert: Broken\n        expr: sum(rate(softswitch_calls_total[5m]) > \n');
    const r = await promtool(['check', 'rules', join(dir, 'bad.yml')]);
    expect(r.code).not.toBe(0);
  });

  it.each(UNIT_TESTS)('test rules: %s passes against the real rule files', async (file) => {
    const r = await promtool(['test', 'rules', prom('tests', file)]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('the unit tests catch a wrong threshold (an alert rule mutated in a copy of deploy/prometheus makes them fail)', async () => {
    expect(UNIT_TESTS.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    tmp.push(dir);
    cpSync(prom(), dir, { recursive: true });
    const alerts = readFileSync(join(dir, 'alerts.yml'), 'utf8');
    const mutated = alerts.replace('expr: softswitch_gateway_up == 0', 'expr: softswitch_gateway_up == 2');
    expect(mutated).not.toBe(alerts);
    writeFileSync(join(dir, 'alerts.yml'), mutated);
    const r = await promtool(['test', 'rules', ...UNIT_TESTS.map((f) => join(dir, 'tests', f))]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/alertname: SoftswitchGatewayDown/);
  });
});
