/**
 * SIP app end to end, draining (what SIGTERM starts): new calls get 503 while live calls go on until the deadline,
 * then are cut with "service shutdown" on both legs. Its own harness: a drained app stays draining.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness();

const CALLEE = '13800138000';

describe('draining', () => {
  it('drain: new calls get 503, live calls run until the deadline and are then cut ("service shutdown")', async () => {
    const tenantId = await h.tenant({ code: 'drain', number: '+8657100000015', balanceFen: 100_000n, pricePerMinute: '6' });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    const carrier = await h.carrier(scenarioFor('call-uas-cut.xml', { REASON_TEXT: 'service shutdown' }), port);
    const caller = h.call(scenarioFor('call-uac-cut.xml', { REASON_TEXT: 'service shutdown' }), { caller: '+8657100000015', callee: CALLEE });
    await eventually('an answered call', () => h.app.answeredCalls() === 1);
    const drained = h.app.drain(Date.now() + 1500);
    const refused = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000015', callee: CALLEE });
    expect(refused).toMatchObject({ successful: 1, failed: 0 });
    expect(h.app.answeredCalls()).toBe(1); // the live call goes on while draining
    await drained;
    expect(await caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 });
    const cdrs = await h.cdrs({ tenantId }, 2);
    const byResult = Object.fromEntries(cdrs.map((c) => [c.result, c]));
    expect(byResult['answered']).toMatchObject({ disconnect_side: 'system', disconnect_reason: 'drain' });
    expect(byResult['rejected']).toMatchObject({ sip_status: 503, reject_reason: 'draining' });
    expect(h.app.activeCalls()).toBe(0);
  });
});
