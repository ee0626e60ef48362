/** The Lua charge function (reservations) and the decimal.js one (CDR, re-rating) agree on every input. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { projectPath } from '../../src/util/paths.js';
import { chargeFen, maxExactSeconds, scriptRate } from '../../src/rating/charge.js';
import type { AppliedRate } from '../../src/cdr/types.js';

let redis: Redis;
const script = readFileSync(projectPath('src', 'charging', 'lua', 'lib.lua'), 'utf8') + `
local r = { price = tonumber(ARGV[1]), cf = tonumber(ARGV[2]), init = tonumber(ARGV[3]), sub = tonumber(ARGV[4]), min = tonumber(ARGV[5]), rnd = ARGV[6] }
return string.format('%d', charge(tonumber(ARGV[7]), r))`;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await redis.quit();
});

const decimal6 = fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([i, f]) => `${i}.${String(f).padStart(6, '0')}`);

it('Lua charge() == rating chargeFen() for random rates, schemes, roundings and durations', async () => {
  await fc.assert(
    fc.asyncProperty(
      decimal6, fc.constantFrom('0', '0.05', '1.234567'), fc.integer({ min: 1, max: 3600 }), fc.integer({ min: 1, max: 3600 }),
      fc.integer({ min: 0, max: 3600 }), fc.constantFrom('up', 'down', 'half-up'), fc.integer({ min: 0, max: 86_400 }),
      async (price, connectFee, init, sub, minimumSeconds, rounding, seconds) => {
        const rate: AppliedRate = { ratePlanId: '1', prefix: '86', pricePerMinute: price, initialIncrement: init, subsequentIncrement: sub, connectFee, minimumSeconds, rounding: rounding as AppliedRate['rounding'] };
        const s = Math.min(seconds, maxExactSeconds(rate, 86_400));
        const r = scriptRate(rate);
        const lua = await redis.eval(script, 0, r.price, r.cf, r.init, r.sub, r.min, r.rnd, s);
        expect(BigInt(lua as string)).toBe(chargeFen(rate, s));
      },
    ),
    { numRuns: 500 },
  );
});
