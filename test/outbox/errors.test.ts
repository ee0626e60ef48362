import { describe, expect, it } from 'vitest';
import { classifyFailure, EventRejected } from '../../src/outbox/errors.js';
import { LedgerError } from '../../src/ledger/errors.js';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('classifyFailure: retry (store down) or dead-letter (content refused)', () => {
  it.each([
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'transient'],
    ['connection terminated (no code)', new Error('Connection terminated unexpectedly'), 'transient'],
    ['admin shutdown 57P01', pgError('57P01'), 'transient'],
    ['connection failure 08006', pgError('08006'), 'transient'],
    ['serialization failure 40001', pgError('40001'), 'transient'],
    ['too many connections 53300', pgError('53300'), 'transient'],
    ['missing table 42P01 (migration not applied yet)', pgError('42P01'), 'transient'],
    ['unique violation 23505', pgError('23505'), 'permanent'],
    ['numeric out of range 22003', pgError('22003'), 'permanent'],
    ['raise exception P0001 (immutable table)', pgError('P0001'), 'permanent'],
    ['ledger overdraw', new LedgerError('overdraw', 'no money'), 'permanent'],
    ['bucket of another tenant', new EventRejected('bucket 1 belongs to tenant 2'), 'permanent'],
  ])('%s → %s', (_name, err, kind) => {
    expect(classifyFailure(err)).toBe(kind);
  });
});
