// docs/cli.md's command reference, made from the CLI registry (src/cli/commands): every command's --help text.
// `tsx scripts/cli-doc.ts` prints it; `--write` replaces everything after "## Command reference" in docs/cli.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { COMMANDS } from '../src/cli/commands/index.js';
import { helpText } from '../src/cli/framework.js';
import { projectPath } from '../src/util/paths.js';

const HEAD = '## Command reference';
const body = [
  HEAD, '', '(Generated from the registry by `npx tsx scripts/cli-doc.ts --write`: `softswitch <command> --help` prints the same.)', '',
  ...COMMANDS.flatMap((c) => [`### \`softswitch ${c.path.join(' ')}\``, '', '```', helpText(c), '```', '']),
].join('\n');
if (process.argv.includes('--write')) {
  const file = projectPath('docs', 'cli.md');
  const doc = readFileSync(file, 'utf8');
  const at = doc.indexOf(HEAD);
  if (at < 0) throw new Error(`docs/cli.md has no "${HEAD}" heading`);
  writeFileSync(file, doc.slice(0, at) + body);
} else process.stdout.write(body);
