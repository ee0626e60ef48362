import { describe, expect, it } from 'vitest';
import type { AppliedRate } from '../../src/cdr/types.js';
import { billableSeconds, chargeFen, durationSeconds, rerate, scriptRate } from '../../src/rating/charge.js';
import { RateDeck, appliedRate, type RateEntry } from '../../src/rating/deck.js';
import { ratingDigits } from '../../src/rating/normalize.js';

const rate = (over: Partial<AppliedRate> = {}): AppliedRate => ({
  ratePlanId: '1', prefix: '86', pricePerMinute: '0.1', initialIncrement: 1, subsequentIncrement: 1,
  connectFee: '0', minimumSeconds: 0, rounding: 'up', ...over,
});

describe('billableSeconds per increment scheme', () => {
  // [scheme init/sub, call seconds, billable]
  const table: [number, number, number, number][] = [
    [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 59, 59], [1, 1, 61, 61],
    [6, 6, 1, 6], [6, 6, 6, 6], [6, 6, 7, 12], [6, 6, 61, 66],
    [60, 60, 1, 60], [60, 60, 60, 60], [60, 60, 61, 120], [60, 60, 121, 180],
    [30, 6, 1, 30], [30, 6, 30, 30], [30, 6, 31, 36], [30, 6, 36, 36], [30, 6, 37, 42], [30, 6, 95, 96],
  ];
  it.each(table)('%i/%i: %i s → %i billable', (init, sub, s, want) => {
    expect(billableSeconds(s, { initialIncrement: init, subsequentIncrement: sub, minimumSeconds: 0 })).toBe(want);
  });
  it('minimum seconds raise short calls only', () => {
    const r = { initialIncrement: 1, subsequentIncrement: 1, minimumSeconds: 30 };
    expect([0, 1, 29, 30, 31].map((s) => billableSeconds(s, r))).toEqual([0, 30, 30, 30, 31]);
  });
});

describe('chargeFen: exact decimals, one rounding per call', () => {
  const table: [string, Partial<AppliedRate>, number, bigint][] = [
    ['0.1/min, 1 s, up: 0.1667 fen → 1', {}, 1, 1n],
    ['0.1/min, 60 s: 10 fen exactly', {}, 60, 10n],
    ['0.1/min, 61 s, up: 10.1667 → 11', {}, 61, 11n],
    ['0.1/min, 61 s, down → 10', { rounding: 'down' }, 61, 10n],
    ['0.1/min, 61 s, half-up → 10', { rounding: 'half-up' }, 61, 10n],
    ['0.1/min, 63 s, half-up: 10.5 → 11', { rounding: 'half-up' }, 63, 11n],
    ['0.05/min, 60 s: 5 fen (no 0.4980 float drift)', { pricePerMinute: '0.05' }, 60, 5n],
    ['0.07/min 6/6, 7 s: 12 s billed = 1.4 fen → 2', { pricePerMinute: '0.07', initialIncrement: 6, subsequentIncrement: 6 }, 7, 2n],
    ['0.12/min 60/60, 61 s: 120 s billed = 24 fen', { pricePerMinute: '0.12', initialIncrement: 60, subsequentIncrement: 60 }, 61, 24n],
    ['0.12/min 30/6, 37 s: 42 s billed = 8.4 → 9', { pricePerMinute: '0.12', initialIncrement: 30, subsequentIncrement: 6 }, 37, 9n],
    ['connect fee 0.05 + 0.1/min, 1 s: 5.1667 → 6', { connectFee: '0.05' }, 1, 6n],
    ['connect fee not charged for 0 s', { connectFee: '0.05' }, 0, 0n],
    ['minimum 60 s, 0.1/min, 5 s → 10', { minimumSeconds: 60 }, 5, 10n],
    ['free destination', { pricePerMinute: '0' }, 3600, 0n],
    ['0.123456/min, 3600 s = 740.736 fen → 741', { pricePerMinute: '0.123456' }, 3600, 741n],
  ];
  it.each(table)('%s', (_name, over, s, want) => {
    expect(chargeFen(rate(over), s)).toBe(want);
  });
  it('is non-decreasing in seconds (needed by the reservation search)', () => {
    for (const r of [rate(), rate({ initialIncrement: 30, subsequentIncrement: 6, connectFee: '0.02', minimumSeconds: 45 }), rate({ rounding: 'down' })]) {
      let prev = 0n;
      for (let s = 0; s <= 400; s++) {
        const c = chargeFen(r, s);
        expect(c >= prev).toBe(true);
        prev = c;
      }
    }
  });
});

describe('durationSeconds and rerate', () => {
  it('a started second is a second', () => {
    expect([0, 1, 999, 1000, 1001, 60_000].map(durationSeconds)).toEqual([0, 1, 1, 1, 2, 60]);
    expect(() => durationSeconds(-1)).toThrow(/duration/);
    expect(() => durationSeconds(1.5)).toThrow(/duration/);
  });
  it('rerate reproduces the charge from the CDR fields alone', () => {
    const r = rate({ pricePerMinute: '0.12', initialIncrement: 30, subsequentIncrement: 6 });
    expect(rerate({ rate: r, durationMs: 36_001 })).toEqual({ billableSeconds: 42, chargeFen: 9n });
    expect(rerate({ rate: null, durationMs: 5000 })).toEqual({ billableSeconds: 0, chargeFen: 0n });
  });
  it('scriptRate gives integer micro-CNY', () => {
    expect(scriptRate(rate({ pricePerMinute: '0.123456', connectFee: '1.5' }))).toMatchObject({ price: '123456', cf: '1500000' });
  });
});

const entry = (prefix: string, price: string, from = 0, to: number | null = null): RateEntry => ({
  ratePlanId: '7', prefix, destination: '', pricePerMinute: price, initialIncrement: 1, subsequentIncrement: 1,
  connectFee: '0', minimumSeconds: 0, effectiveFrom: from, effectiveTo: to,
});

describe('RateDeck: longest prefix, effective dates', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const t1 = Date.UTC(2026, 6, 1);
  const deck = new RateDeck('7', [
    entry('86', '0.20'), entry('86138', '0.10'), entry('8613800', '0.05', t1),
    entry('8610', '0.08', 0, t1), entry('8610', '0.06', t1),
  ]);
  it('longest matching prefix wins', () => {
    expect(deck.find('8613912345678', t0)?.prefix).toBe('86'); // 86139: only 86 matches
    expect(deck.find('8613812345678', t0)?.prefix).toBe('86138');
  });
  it('an entry not yet effective does not shadow a shorter prefix', () => {
    expect(deck.find('8613800138000', t0)?.prefix).toBe('86138');
    expect(deck.find('8613800138000', t1)?.prefix).toBe('8613800');
  });
  it('effective_to is exclusive; the later entry takes over', () => {
    expect(deck.find('861012345678', t1 - 1)?.pricePerMinute).toBe('0.08');
    expect(deck.find('861012345678', t1)?.pricePerMinute).toBe('0.06');
  });
  it('unknown destination or non-digits → null (not routable)', () => {
    expect(deck.find('4420712345', t0)).toBeNull();
    expect(deck.find('86abc', t0)).toBeNull();
  });
  it('refuses entries the engine could not price exactly', () => {
    expect(() => new RateDeck('7', [entry('86', '0.1234567')])).toThrow(/6 decimals/);
    expect(() => new RateDeck('7', [{ ...entry('86', '0.1'), subsequentIncrement: 0 }])).toThrow(/subsequent increment/);
  });
  it('appliedRate copies the entry with canonical decimals and the rounding', () => {
    expect(appliedRate({ ...entry('86', '0.100000'), connectFee: '0.000000' }, 'down')).toEqual(rate({ ratePlanId: '7', pricePerMinute: '0.1', rounding: 'down' }));
  });
});

describe('ratingDigits', () => {
  it('normalizes +, 00 and refuses non-digits', () => {
    expect(['+8613800138000', '008613800138000', '8613800138000', ' +86 1', 'sip:1', ''].map(ratingDigits))
      .toEqual(['8613800138000', '8613800138000', '8613800138000', null, null, null]);
  });
});
