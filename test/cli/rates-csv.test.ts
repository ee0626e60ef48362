import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRateCsv } from '../../src/rates-import/import.js';
import { checkHeader, parseRateRow } from '../../src/rates-import/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'rates-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('rate CSV validation', () => {
  it('normalizes exact decimals and applies defaults', () => {
    const cols = checkHeader(['Prefix', 'PRICE_PER_MINUTE', 'effective_to']);
    expect(parseRateRow(cols, ['8613', '0.08', '2027-01-01'], 2)).toEqual({
      row: { prefix: '8613', destination: '', pricePerMinute: '0.080000', initialIncrement: 1, subsequentIncrement: 1, connectFee: '0.000000',
        minimumSeconds: 0, effectiveFrom: new Date('1970-01-01T00:00:00Z'), effectiveTo: new Date('2027-01-01T00:00:00Z') },
    });
  });
  it('reports every problem of a row in one message', () => {
    const cols = checkHeader(['prefix', 'price_per_minute', 'minimum_seconds', 'effective_from', 'effective_to']);
    const r = parseRateRow(cols, ['+86', '1e3', '-1', '2026-02-30T00:00:00Z', '2025-01-01'], 9);
    expect('error' in r && r.error.line).toBe(9);
    const msg = 'error' in r ? r.error.message : '';
    for (const f of ['prefix', 'price_per_minute', 'minimum_seconds']) expect(msg).toContain(f);
    expect(parseRateRow(cols, ['86', '0.1', '0', '2026-01-01', '2025-01-01'], 3)).toMatchObject({ error: { message: 'effective_to must be after effective_from' } });
  });
  it('refuses bad headers', () => {
    expect(() => checkHeader(['prefix'])).toThrow(/missing required column\(s\) price_per_minute/);
    expect(() => checkHeader(['prefix', 'price_per_minute', 'prefix'])).toThrow(/duplicate column/);
    expect(() => checkHeader(['prefix', 'price'])).toThrow(/unknown column\(s\) price/);
  });
  it('malformed, header-only, empty and BOM files', async () => {
    expect((await readRateCsv(file('q.csv', 'prefix,price_per_minute\n8613,"0.08\n8614,0.09\n'))).errors[0]!.message).toMatch(/malformed CSV/);
    expect(await readRateCsv(file('h.csv', 'prefix,price_per_minute\n'))).toMatchObject({ rows: [], errorCount: 0, total: 0 });
    expect((await readRateCsv(file('e.csv', ''))).errors).toEqual([{ line: 1, message: expect.stringMatching(/empty file/) }]);
    const bom = await readRateCsv(file('b.csv', '\uFEFFprefix,price_per_minute\r\n8613,0.08\r\n'));
    expect(bom.rows.map((r) => r.prefix)).toEqual(['8613']);
  });
});
