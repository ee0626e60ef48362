/** Redis key names of the charging engine (relative to the connection's keyPrefix). One place, so scripts agree. */
export const keys = {
  tenant: (t: string) => `tenant:${t}`,
  buckets: (t: string) => `tenant:${t}:buckets`,
  bucketMeta: (t: string) => `tenant:${t}:bmeta`,
  credits: (t: string) => `tenant:${t}:credits`,
  creditAmounts: (t: string) => `tenant:${t}:creditamt`,
  expirySeq: (t: string) => `tenant:${t}:expseq`,
  /** set of the tenant's live (reserved, not yet settled) call ids: the divisor of fair sharing */
  calls: (t: string) => `tenant:${t}:calls`,
  call: (callId: string) => `call:${callId}`,
  done: (callId: string) => `done:${callId}`,
  leases: 'leases',
  expiries: 'expiries',
  outbox: 'outbox',
  /** pub/sub channel (not a key: ioredis does not prefix channels, so the prefix is added by hand) */
  control: (prefix: string) => `${prefix}control`,
};

/** Bucket metadata as stored for the scripts: "kind|validFromMs|expiresAtMs". */
export function bucketMeta(kind: 'paid' | 'gift', validFrom: Date, expiresAt: Date | null): string {
  return `${kind}|${validFrom.getTime()}|${expiresAt ? expiresAt.getTime() : ''}`;
}
