/**
 * SIP app end to end on a fail-open trunk (ingress_trunks.failure_policy = continue, RFC 4006 CCFH "continue") with
 * the charging Redis down: this file runs its OWN redis-server (append-only, as production) and SIGKILLs it.
 * docs/charging.md: a call of a tenant whose rate plan is cached is admitted with one slice (here 4 s) and never
 * more, then cut; the per-tenant limits in Redis are skipped (docs/sip.md); a tenant never seen is refused 503.
 * The CDRs wait in the engine and are written, and charged, once Redis is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitReady } from '../../src/charging/redis.js';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis.js';
import { freePort } from '../helpers/ports.js';
import { killSipps, scenarioFor, startHarness, type Harness } from './harness.js';

let h: Harness;
let own: OwnRedis;

beforeAll(async () => {
  own = await startOwnRedis({ appendOnly: true });
  h = await startHarness({ 'redis.url': own.url, 'charging.sliceSeconds': 4 });
  await h.db.pool.query(`update ingress_trunks set failure_policy = 'continue' where name = 'ccc-test'`);
});
afterEach(() => killSipps());
afterAll(async () => {
  if (own && !own.running()) await own.start().catch(() => undefined);
  await h?.close();
  await own?.destroy();
});

const CALLEE = '13800138000';

describe('fail-open trunk with Redis down', () => {
  it('calls of a known tenant get one slice and are cut at its end, limits skipped; an unknown tenant gets 503; CDRs and charges land after recovery', async () => {
    const known = await h.tenant({ code: 'open', number: '+8657100000041', balanceFen: 1000n, pricePerMinute: '6', maxConcurrent: 1 });
    const unseen = await h.tenant({ code: 'unseen', number: '+8657100000042', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);

    // with Redis up: one ordinary call, which also puts the tenant's rate plan in the engine's cache
    const warm = await h.carrier('call-uas-answer.xml', port);
    expect(await h.call('call-uac-answer.xml', { caller: '+8657100000041', callee: CALLEE, holdMs: 200 })).toMatchObject({ successful: 1 });
    expect(await warm.done).toMatchObject({ successful: 1 });
    const [first] = await h.cdrs({ tenantId: known }, 1);

    await own.kill();
    // two calls at once although max_concurrent is 1 (the limits live in the Redis that is down), each cut by the
    // system when its one 4 s slice ends; both legs get the BYE with its Reason
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'balance exhausted' }), port, {}, 2);
    const calls = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'balance exhausted' }), { caller: '+8657100000041', callee: CALLEE, calls: 2 });
    // meanwhile a tenant the engine has never rated: no cached plan, so no fail-open, 503
    const refused = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000042', callee: CALLEE });
    expect(refused).toMatchObject({ successful: 1, failed: 0 });
    expect(await calls).toMatchObject({ successful: 2, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 2, failed: 0 });
    expect(h.app.activeCalls()).toBe(0);

    await own.start();
    await waitReady(h.redis, 10_000);
    const cdrs = (await h.cdrs({ tenantId: known }, 3)).filter((c) => c.call_id !== first!.call_id);
    expect(cdrs).toHaveLength(2);
    for (const c of cdrs) {
      expect(c).toMatchObject({ result: 'answered', disconnect_side: 'system', disconnect_reason: 'balance exhausted', billable_seconds: 4, charge_fen: 40n });
    }
    const [rejected] = await h.cdrs({ tenantId: unseen }, 1);
    expect(rejected).toMatchObject({ result: 'rejected', sip_status: 503, reject_reason: 'store_down', charge_fen: 0n });
    // the fail-open calls are charged (unreserved settle: the balance covers them) and tie to the ledger
    expect(await h.callCharges(known)).toBe(first!.charge_fen + 80n);
    expect(await h.ledgerBalance(known)).toBe(1000n - first!.charge_fen - 80n);
  }, 90_000);
});
