// The README configuration table, made from src/config/config.ts SETTINGS (the one source of truth).
// `tsx scripts/config-table.ts` prints it; `--write` replaces it between the markers in README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS, readDefaults } from '../src/config/config.js';
import { projectPath } from '../src/util/paths.js';

const defaults = readDefaults();
const get = (p: string): unknown => p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
const allowed = (s: (typeof SETTINGS)[number]): string => {
  const k = s.kind;
  switch (k.type) {
    case 'int': return `integer ${k.min}–${k.max}`;
    case 'bool': return 'true/false';
    case 'enum': return k.values.join(' \\| ');
    case 'string': return k.allowed ?? 'string';
    case 'list': return k.allowed ?? 'list';
  }
};
const lines = ['| env var | key | default | allowed | meaning |', '|---|---|---|---|---|'];
for (const s of SETTINGS) {
  const d = s.secret ? '(set in production)' : `\`${JSON.stringify(get(s.path))}\``;
  lines.push(`| \`${s.env}\` | ${s.path} | ${d} | ${allowed(s)} | ${s.doc} |`);
}
const table = lines.join('\n');
if (process.argv.includes('--write')) {
  const file = projectPath('README.md');
  const readme = readFileSync(file, 'utf8');
  const re = /(<!-- config-table:start -->)[\s\S]*?(<!-- config-table:end -->)/;
  if (!re.test(readme)) throw new Error('README.md has no config-table markers');
  writeFileSync(file, readme.replace(re, `$1\n${table}\n$2`));
} else {
  process.stdout.write(table + '\n');
}
