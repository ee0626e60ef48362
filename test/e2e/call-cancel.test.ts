/**
 * SIP app end to end: the B leg is cancelled (caller CANCEL, operator cut before answer) and the carrier never sends
 * the INVITE's final response. The session still ends within sip.cancelTimeoutSeconds (2 s here; RFC 3261 §9.1's
 * 32 s by default) with its CDR, and every hold is released: the tenant's limits slot and its charging reservation.
 * Real sipp, SIP server (embedded edge, or drachtio-server with SIP_TEST_TARGET=drachtio), Redis, PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { createLimits } from '../../src/sip/limits.js';
import { registry } from '../../src/observability/metrics.js';
import { freePort } from '../helpers/ports.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness({ 'sip.cancelTimeoutSeconds': 2 });

const CALLEE = '13800138000';

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nothing of the call is held any more: no limits slot, no live reservation. */
async function expectNoHolds(tenantId: string): Promise<void> {
  expect(await createLimits(h.redis, { timeZone: h.config.service.timezone }).liveCount(tenantId)).toBe(0);
  expect(await h.redis.scard(h.redis.layout.calls(tenantId))).toBe(0);
}

describe('the carrier never answers our CANCEL with a final response', () => {
  it('caller CANCEL: the call ends within the bound, CDR canceled/487, slot and reservation released', async () => {
    const tenantId = await h.tenant({ code: 'nofinal', number: '+8657100000031', balanceFen: 1000n, maxConcurrent: 1 });
    const port = await freePort();
    await h.gateways([{ name: 'gw-mute', port }]);
    const carrier = await h.carrier('call-uas-ring-no487.xml', port);
    const caller = await h.call('call-uac-cancel.xml', { caller: '+8657100000031', callee: CALLEE });
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // the SIP server answered the caller's CANCEL itself
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // it got our CANCEL
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'canceled', sip_status: 487, charge_fen: 0n, disconnect_side: 'caller', gateway: 'gw-mute' });
    expect(cdr!.end_at.getTime() - cdr!.invite_at.getTime()).toBeGreaterThanOrEqual(2000); // it did wait for the 487
    await until('the session to end', () => h.app.activeCalls() === 0);
    await expectNoHolds(tenantId);
    expect(await h.ledgerBalance(tenantId)).toBe(1000n);

    // the slot is free again: the tenant (max 1 live call) can call at once
    const answering = await h.carrier('call-uas-answer.xml', port);
    expect(await h.call('call-uac-answer.xml', { caller: '+8657100000031', callee: CALLEE, holdMs: 500 })).toMatchObject({ successful: 1, failed: 0 });
    expect(await answering.done).toMatchObject({ successful: 1, failed: 0 });
  });

  it('operator cut before answer: the caller gets 503 within the bound, CDR rejected, slot and reservation released', async () => {
    const tenantId = await h.tenant({ code: 'cutearly', number: '+8657100000032', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-mute', port }]);
    const carrier = await h.carrier('call-uas-ring-no487.xml', port);
    const rungBefore = await ringings();
    const caller = h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000032', callee: CALLEE });
    await until('the carrier to ring', async () => (await ringings()) > rungBefore);
    expect(await h.app.cutTenant(tenantId, 'operator cut')).toBe(1);
    expect(await caller).toMatchObject({ successful: 1, failed: 0 });
    expect(await carrier.done).toMatchObject({ successful: 1, failed: 0 }); // it got our CANCEL
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'rejected', sip_status: 503, reject_reason: 'tenant', disconnect_reason: 'operator cut', charge_fen: 0n });
    await until('the session to end', () => h.app.activeCalls() === 0);
    await expectNoHolds(tenantId);
  });
});

/** How many B legs have rung so far (softswitch_post_dial_delay_seconds observes each first 180). */
async function ringings(): Promise<number> {
  const m = await registry.getSingleMetric('softswitch_post_dial_delay_seconds')!.get();
  return m.values.find((v) => (v as { metricName?: string }).metricName === 'softswitch_post_dial_delay_seconds_count')?.value ?? 0;
}
