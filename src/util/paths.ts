/** Paths inside the checkout, the same whether code runs from src/ (tsx, vitest) or dist/src/ (node). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  root = dir;
  return dir;
}

/** A file of the checkout, e.g. projectPath('src', 'charging', 'lua', 'authorize.lua'). */
export function projectPath(...parts: string[]): string {
  return join(projectRoot(), ...parts);
}
