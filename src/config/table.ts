/**
 * The README configuration table, made from SETTINGS and config/default.json (the one source of truth). Every row
 * shows the true default, secrets included: a secret setting's shipped default is never a secret (empty, or
 * drachtio's public `cymru`); the flag only keeps a value that is set from logs and error messages.
 */
import { readDefaults, SETTINGS, type Setting } from './config.js';

const allowed = (s: Setting): string => {
  const k = s.kind;
  switch (k.type) {
    case 'int': return `integer ${k.min}–${k.max}`;
    case 'bool': return 'true/false';
    case 'auto-bool': return 'auto \\| true \\| false';
    case 'enum': return k.values.join(' \\| ');
    case 'string': return k.allowed ?? 'string';
    case 'list': return k.allowed ?? 'list';
  }
};

export function defaultOf(defaults: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
}

export function configTable(settings: readonly Setting[] = SETTINGS, defaults: Record<string, unknown> = readDefaults()): string {
  const lines = ['| env var | key | default | allowed | meaning |', '|---|---|---|---|---|'];
  for (const s of settings) {
    const d = `\`${JSON.stringify(defaultOf(defaults, s.path))}\`${s.secret ? ' (secret: a value set is never logged)' : ''}`;
    lines.push(`| \`${s.env}\` | ${s.path} | ${d} | ${allowed(s)} | ${s.doc} |`);
  }
  return lines.join('\n');
}

export const TABLE_MARKERS = /(<!-- config-table:start -->)[\s\S]*?(<!-- config-table:end -->)/;
