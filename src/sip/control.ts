/**
 * The SIP app's own operator channel: "cut every live call of tenant T now" without changing the tenant's state
 * (a suspension goes through the charging engine's tenant control channel instead). Redis pub/sub on
 * `<keyPrefix>sip:control`; every SIP instance subscribes and cuts its own calls of the tenant.
 */
import { sipCallsScan } from '../charging/keys.js';
import { duplicateConnection, masterNodes, type ChargingRedis } from '../charging/redis.js';

export interface CutMessage {
  action: 'cut';
  tenantId: string;
  reason: string;
}

function channel(keyPrefix: string): string {
  return `${keyPrefix}sip:control`; // pub/sub channels get no ioredis keyPrefix: add it ourselves
}

/** Publish a cut; returns how many SIP instances received it. */
export async function publishCut(redis: ChargingRedis, tenantId: string, reason = 'operator cut'): Promise<number> {
  if (!/^[0-9]{1,19}$/.test(tenantId)) throw new RangeError(`tenantId must be a decimal id, got ${JSON.stringify(tenantId)}`);
  const msg: CutMessage = { action: 'cut', tenantId, reason };
  return redis.publish(channel(redis.keyPrefix), JSON.stringify(msg));
}

/** Subscribe on a duplicate connection; returns the unsubscribe function. Malformed messages are ignored. */
export async function subscribeCuts(redis: ChargingRedis, handler: (m: CutMessage) => void): Promise<() => Promise<void>> {
  const sub = duplicateConnection(redis, { enableOfflineQueue: true });
  const ch = channel(redis.keyPrefix);
  sub.on('message', (c: string, text: string) => {
    if (c !== ch) return;
    try {
      const m = JSON.parse(text) as Partial<CutMessage>;
      if (m.action === 'cut' && typeof m.tenantId === 'string' && typeof m.reason === 'string') handler({ action: 'cut', tenantId: m.tenantId, reason: m.reason });
    } catch {
      // not ours
    }
  });
  await sub.subscribe(ch);
  return async () => {
    await sub.quit().catch(() => sub.disconnect());
  };
}

/** Live calls per tenant, from the limits' call sets (all instances); leases that ran out are not counted. */
export async function liveCallsByTenant(redis: ChargingRedis, tenantId?: string, now = Date.now()): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const k = redis.layout;
  if (tenantId !== undefined) {
    out.set(tenantId, await redis.zcount(k.sipCalls(tenantId), now, '+inf'));
    return out;
  }
  const scan = sipCallsScan(redis.keyPrefix);
  // SCAN walks one node's keyspace: every master in Redis Cluster
  for (const node of masterNodes(redis)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', scan.match, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const t = scan.tenantOf(key);
        if (t === null) continue;
        const n = await redis.zcount(k.sipCalls(t), now, '+inf');
        if (n > 0) out.set(t, n);
      }
    } while (cursor !== '0');
  }
  return out;
}
