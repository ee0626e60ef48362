/**
 * The layers of src (README "Layers"): db ← store ← domain and services ← cli and api. Read from the source text:
 * every relative import of every module, and where SQL is run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../src/util/paths.js';

const SRC = projectPath('src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? modules(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

interface Import { from: string; to: string; typeOnly: boolean }

/** Relative imports and re-exports, with whether only types cross (import type, or every name marked type). */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const from = relative(SRC, file);
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s+'(\.[^']+)'/gms)].map((m) => {
    const names = /^\{([^}]*)\}$/.exec(m[2]!.trim())?.[1]?.split(',').map((n) => n.trim()).filter(Boolean);
    const typeOnly = m[1] !== undefined || (names !== undefined && names.every((n) => n.startsWith('type ')));
    return { from, to: relative(SRC, join(dirname(file), m[3]!)).replace(/\.js$/, '.ts'), typeOnly };
  });
}

const all = modules(SRC).flatMap(importsOf);
const layer = (path: string) => path.split('/')[0]!;

describe('layering of src', () => {
  it('src/db imports nothing but src/db and src/util', () => {
    const bad = all.filter((i) => layer(i.from) === 'db' && !['db', 'util'].includes(layer(i.to)));
    expect(bad).toEqual([]);
  });

  it('src/store imports code only from src/db (record types from anywhere below the interfaces)', () => {
    const bad = all.filter((i) => layer(i.from) === 'store' && layer(i.to) !== 'store' && layer(i.to) !== 'db'
      && (!i.typeOnly || ['services', 'cli', 'api'].includes(layer(i.to))));
    expect(bad).toEqual([]);
  });

  it('only the CLI, the API and the billing scheduler use the service layer', () => {
    const bad = all.filter((i) => layer(i.to) === 'services' && !['services', 'cli', 'api'].includes(layer(i.from)) && i.from !== 'jobs/scheduler.ts');
    expect(bad).toEqual([]);
  });

  it('the CLI and the API reach no store and no database but through the services', () => {
    const bad = all.filter((i) => ['cli', 'api'].includes(layer(i.from)) && !i.typeOnly && ['store', 'db'].includes(layer(i.to)) && i.from !== 'cli/run.ts');
    expect(bad).toEqual([]);
  });

  it('SQL runs only in src/db and src/store', () => {
    const bad = modules(SRC).filter((f) => !['db', 'store'].includes(layer(relative(SRC, f))) && /\.query[<(]/.test(readFileSync(f, 'utf8')));
    expect(bad.map((f) => relative(SRC, f))).toEqual([]);
  });
});
