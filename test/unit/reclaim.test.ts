/** The sweeper's reading of a call hash (src/charging/reclaim.ts): every field checked, a problem named, never thrown. */
import { describe, expect, it } from 'vitest';
import { reclaimFacts } from '../../src/charging/reclaim.js';
import { keyLayout } from '../../src/charging/keys.js';

const k = keyLayout(16);
const rate = { ratePlanId: '3', prefix: '86', pricePerMinute: '0.6', initialIncrement: 1, subsequentIncrement: 1, connectFee: '0', minimumSeconds: 0, rounding: 'up' };
// as authorize.lua, answer.lua and extend.lua leave it (tenant 21 is in shard 5 of 16)
const good: Record<string, string> = {
  tenant: '21', inst: 'host-1-abc', state: 'answered', granted: '10', held: '10', at: '1790000000000', answer: '1790000002000',
  rate: JSON.stringify(rate), callee: '8613800138000', 'h:7': '10',
};

describe('reclaimFacts', () => {
  it('reads a sound hash', () => {
    expect(reclaimFacts(good, 5, k.shardOfTenant)).toEqual({
      tenantId: '21', owner: 'host-1-abc', callee: '8613800138000', inviteAt: 1790000000000, answerAt: 1790000002000, granted: 10, rate,
    });
    const { answer: _a, ...ringing } = good;
    expect(reclaimFacts(ringing, 5, k.shardOfTenant)).toMatchObject({ answerAt: null });
    expect(reclaimFacts({ ...good, rate: 'null' }, 5, k.shardOfTenant)).toMatchObject({ rate: null }); // nothing to charge
  });

  it.each([
    ['no tenant', { tenant: undefined }, /tenant is not a decimal id/],
    ['a tenant of another shard', { tenant: '22' }, /tenant 22 is not of shard 5/],
    ['a non-numeric grant', { granted: 'lots' }, /granted/],
    ['a negative grant', { granted: '-5' }, /granted/],
    ['no invite time', { at: undefined }, /at is not/],
    ['a bad answer time', { answer: '1.5e12' }, /answer is not/],
    ['no rate', { rate: undefined }, /rate is not JSON/],
    ['a rate that is not JSON', { rate: '{"ratePlanId":' }, /rate is not JSON/],
    ['a float price', { rate: JSON.stringify({ ...rate, pricePerMinute: 0.6 }) }, /pricePerMinute/],
    ['a negative connect fee', { rate: JSON.stringify({ ...rate, connectFee: '-1' }) }, /connectFee/],
    ['a zero increment', { rate: JSON.stringify({ ...rate, subsequentIncrement: 0 }) }, /subsequentIncrement/],
    ['an unknown rounding', { rate: JSON.stringify({ ...rate, rounding: 'banker' }) }, /rounding/],
  ])('names the problem of %s', (_what, patch, problem) => {
    const h: Record<string, string> = { ...good };
    for (const [f, v] of Object.entries(patch)) {
      if (v === undefined) delete h[f];
      else h[f] = v;
    }
    const r = reclaimFacts(h, 5, k.shardOfTenant);
    expect('problem' in r && r.problem).toMatch(problem);
  });
});
