#!/usr/bin/env node
// The `softswitch` CLI. In a checkout with dev dependencies it runs the TypeScript source through tsx, so it is never
// a stale build; in a production install (no tsx) it runs the compiled dist/ from `npm run build`.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
let tsx = null;
try {
  tsx = createRequire(join(root, 'package.json')).resolve('tsx');
} catch {
  tsx = null;
}
if (tsx && existsSync(source)) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
  process.exit(r.status ?? 1);
} else {
  const built = join(root, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(built)) {
    process.stderr.write('softswitch: not built; run `npm run build` first\n');
    process.exit(1);
  }
  await import(built);
}
