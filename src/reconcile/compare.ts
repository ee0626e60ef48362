/**
 * Pure reconciliation arithmetic (no I/O). The charging engine keeps, for every bucket,
 *     Redis available = ledger balance - held by live calls - charged in Redis but not yet in the ledger (outbox)
 * so drift = Redis available - (ledger - held - outbox) must be 0; anything else is money Redis and PostgreSQL
 * disagree on. PostgreSQL (the ledger) is the truth: a repair moves Redis by -drift.
 */
export interface LedgerBucket {
  bucketId: string;
  kind: 'paid' | 'gift';
  validFrom: Date;
  expiresAt: Date | null;
  balanceFen: bigint;
}

export interface RedisTenant {
  loaded: boolean;
  available: Map<string, bigint>; // bucketId -> available fen
  credits: Set<string>; // ledger credit transfer ids applied in Redis
}

interface BucketReport {
  bucketId: string;
  kind: 'paid' | 'gift' | null; // null: a bucket Redis knows and the ledger does not
  ledgerFen: bigint;
  redisFen: bigint;
  heldFen: bigint;
  outboxFen: bigint;
  expectedRedisFen: bigint;
  driftFen: bigint; // redis - expected
}

type TenantState = 'ok' | 'drift' | 'not_loaded' | 'unstable';

export interface TenantComparison {
  tenantId: string;
  state: TenantState;
  liveCalls: number;
  buckets: BucketReport[];
  /** ledger credits (top-up/gift transfer ids) Redis has not recorded as applied */
  missingCredits: string[];
  /** credits Redis applied that this ledger snapshot does not contain yet (a top-up in flight) */
  creditsAhead: string[];
}

/** One tenant as seen by one consistent PostgreSQL snapshot and one atomic Redis snapshot. */
export interface TenantSnapshot {
  tenantId: string;
  ledger: LedgerBucket[];
  ledgerCredits: string[];
  redis: RedisTenant;
  held: Map<string, bigint>;
  liveCalls: number;
  outbox: Map<string, bigint>; // bucketId -> fen charged in Redis, not yet in this ledger snapshot
}

export function compareTenant(input: TenantSnapshot): TenantComparison {
  const { tenantId, ledger, redis, held, outbox } = input;
  const base = { tenantId, liveCalls: input.liveCalls, buckets: [] as BucketReport[], missingCredits: [] as string[], creditsAhead: [] as string[] };
  if (!redis.loaded) return { ...base, state: 'not_loaded' };
  const ids = new Set<string>([...ledger.map((b) => b.bucketId), ...redis.available.keys(), ...held.keys(), ...outbox.keys()]);
  const byId = new Map(ledger.map((b) => [b.bucketId, b]));
  const buckets = [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).map((bucketId): BucketReport => {
    const l = byId.get(bucketId);
    const ledgerFen = l?.balanceFen ?? 0n;
    const heldFen = held.get(bucketId) ?? 0n;
    const outboxFen = outbox.get(bucketId) ?? 0n;
    const redisFen = redis.available.get(bucketId) ?? 0n;
    const expectedRedisFen = ledgerFen - heldFen - outboxFen;
    return { bucketId, kind: l?.kind ?? null, ledgerFen, redisFen, heldFen, outboxFen, expectedRedisFen, driftFen: redisFen - expectedRedisFen };
  });
  const ledgerCredits = new Set(input.ledgerCredits);
  const missingCredits = input.ledgerCredits.filter((id) => !redis.credits.has(id)).sort();
  const creditsAhead = [...redis.credits].filter((id) => !ledgerCredits.has(id)).sort();
  const drift = buckets.some((b) => b.driftFen !== 0n) || missingCredits.length > 0;
  const state: TenantState = creditsAhead.length > 0 ? 'unstable' : drift ? 'drift' : 'ok';
  return { ...base, state, buckets, missingCredits, creditsAhead };
}

/** Sum of |drift| over a tenant's buckets, in fen. */
export function absDrift(t: TenantComparison): bigint {
  return t.buckets.reduce((a, b) => a + (b.driftFen < 0n ? -b.driftFen : b.driftFen), 0n);
}
