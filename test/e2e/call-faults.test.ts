/**
 * SIP app end to end with the charging store down: this file runs its OWN redis-server (never the shared one, with
 * an append-only file as production Redis has), SIGKILLs it mid-test and starts it again on the same data. Calls are
 * refused with 503 + Reason while Redis is gone, the refusal's CDR is not lost (written once Redis is back), and
 * calls work again after recovery.
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
  h = await startHarness({ 'redis.url': own.url });
});
afterEach(() => killSipps());
afterAll(async () => {
  if (own && !own.running()) await own.start().catch(() => undefined);
  await h?.close();
  await own?.destroy();
});

describe('charging store down', () => {
  it('503 with Reason while Redis is down; the refusal CDR is written after recovery; calls work again', async () => {
    const tenantId = await h.tenant({ code: 'faults', number: '+8657100000021', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);

    await own.kill();
    const refused = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000021', callee: '13800138000' });
    expect(refused).toMatchObject({ successful: 1, failed: 0 });
    expect(h.app.activeCalls()).toBe(0);

    await own.start();
    await waitReady(h.redis, 10_000);
    const [rejected] = await h.cdrs({ tenantId }, 1);
    expect(rejected).toMatchObject({ result: 'rejected', sip_status: 503, reject_reason: 'store_down', charge_fen: 0n });

    const carrier = await h.carrier('call-uas-answer.xml', port);
    const ok = await h.call('call-uac-answer.xml', { caller: '+8657100000021', callee: '13800138000', holdMs: 500 });
    expect(ok).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const cdrs = await h.cdrs({ tenantId }, 2);
    expect(cdrs[1]).toMatchObject({ result: 'answered' });
    expect(await h.callCharges(tenantId)).toBe(cdrs[1]!.charge_fen);
  });
});
