import { describe, expect, it } from 'vitest';
import { absDrift, compareTenant, type LedgerBucket } from '../../src/reconcile/compare.js';

const bucket = (bucketId: string, balanceFen: bigint, kind: 'paid' | 'gift' = 'paid'): LedgerBucket => ({ bucketId, kind, validFrom: new Date(0), expiresAt: null, balanceFen });
const base = {
  tenantId: '7',
  ledger: [bucket('10', 1000n), bucket('11', 50n, 'gift')],
  ledgerCredits: ['100', '101'],
  liveCalls: 1,
  held: new Map([['10', 30n]]),
  outbox: new Map([['10', 20n], ['11', 5n]]),
};
const redis = (available: [string, bigint][], credits = ['100', '101']) => ({ loaded: true, available: new Map(available), credits: new Set(credits) });

describe('compareTenant (pure arithmetic: redis = ledger - held - outbox)', () => {
  it('no drift when Redis equals ledger minus holds minus outbox, per bucket', () => {
    const c = compareTenant({ ...base, redis: redis([['10', 950n], ['11', 45n]]) });
    expect(c.state).toBe('ok');
    expect(c.buckets).toEqual([
      { bucketId: '10', kind: 'paid', ledgerFen: 1000n, redisFen: 950n, heldFen: 30n, outboxFen: 20n, expectedRedisFen: 950n, driftFen: 0n },
      { bucketId: '11', kind: 'gift', ledgerFen: 50n, redisFen: 45n, heldFen: 0n, outboxFen: 5n, expectedRedisFen: 45n, driftFen: 0n },
    ]);
    expect(absDrift(c)).toBe(0n);
  });

  it('drift is signed per bucket and summed as absolute values', () => {
    const c = compareTenant({ ...base, redis: redis([['10', 960n], ['11', 40n]]) });
    expect(c.state).toBe('drift');
    expect(c.buckets.map((b) => b.driftFen)).toEqual([10n, -5n]);
    expect(absDrift(c)).toBe(15n);
  });

  it('a bucket Redis has and the ledger does not is all drift; a missing Redis field counts as 0', () => {
    const c = compareTenant({ ...base, outbox: new Map([['10', 20n]]), redis: redis([['10', 950n], ['12', 7n]]) });
    expect(c.buckets.map((b) => [b.bucketId, b.kind, b.redisFen, b.driftFen])).toEqual([['10', 'paid', 950n, 0n], ['11', 'gift', 0n, -50n], ['12', null, 7n, 7n]]);
  });

  it('a ledger credit Redis never recorded is drift even when the amounts agree (a late applyCredit would double it)', () => {
    const c = compareTenant({ ...base, redis: redis([['10', 950n], ['11', 45n]], ['100']) });
    expect(c).toMatchObject({ state: 'drift', missingCredits: ['101'], creditsAhead: [] });
    expect(absDrift(c)).toBe(0n);
  });

  it('a credit Redis applied that the ledger snapshot lacks makes the reading unstable (never repaired on it)', () => {
    const c = compareTenant({ ...base, redis: redis([['10', 1950n], ['11', 45n]], ['100', '101', '102']) });
    expect(c).toMatchObject({ state: 'unstable', creditsAhead: ['102'] });
  });

  it('a tenant Redis never loaded is not compared', () => {
    const c = compareTenant({ ...base, redis: { loaded: false, available: new Map(), credits: new Set() } });
    expect(c).toMatchObject({ state: 'not_loaded', buckets: [] });
  });
});
