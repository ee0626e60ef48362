/** README's configuration table: every default shown is the value the config takes with no env set (secrets too). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/config/config.js';
import { configTable, defaultOf, TABLE_MARKERS } from '../../src/config/table.js';
import { projectPath } from '../../src/util/paths.js';

describe('config table', () => {
  const table = configTable();
  const rows = new Map(table.split('\n').slice(2).map((l) => {
    const cells = l.split(' | ');
    return [cells[0]!.replace(/^\| `|`$/g, ''), cells[2]!] as const;
  }));

  it('shows the true default of every setting, a secret marked as such but never hidden', () => {
    const config = loadConfig({}) as unknown as Record<string, unknown>;
    expect(rows.size).toBe(SETTINGS.length);
    for (const s of SETTINGS) {
      const cell = rows.get(s.env)!;
      expect(cell, s.env).toContain(`\`${JSON.stringify(defaultOf(config, s.path))}\``);
      expect(cell.includes('secret'), s.env).toBe(s.secret === true);
    }
    expect(rows.get('MEDIA_SERVER')).toMatch(/^`\[\]`/);
    expect(table).not.toContain('(set in production)');
  });

  it('is what README.md holds (regenerate with npx tsx scripts/config-table.ts --write)', () => {
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    expect(TABLE_MARKERS.exec(readme)?.[0]).toBe(`<!-- config-table:start -->\n${table}\n<!-- config-table:end -->`);
  });
});
