// The README configuration table (src/config/table.ts, made from src/config/config.ts SETTINGS and the defaults).
// `tsx scripts/config-table.ts` prints it; `--write` replaces it between the markers in README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable, TABLE_MARKERS } from '../src/config/table.js';
import { projectPath } from '../src/util/paths.js';

const table = configTable();
if (process.argv.includes('--write')) {
  const file = projectPath('README.md');
  const readme = readFileSync(file, 'utf8');
  if (!TABLE_MARKERS.test(readme)) throw new Error('README.md has no config-table markers');
  writeFileSync(file, readme.replace(TABLE_MARKERS, `$1\n${table}\n$2`));
} else {
  process.stdout.write(table + '\n');
}
