/**
 * SIP app end to end, calls that end inside the INVITE handler rather than through a carrier:
 *  - the handler crashes after authorization (here: the gateway table cannot be read): the caller gets 500, the CDR
 *    says failed/500 "internal error", the reservation and the limit slot are given back;
 *  - the caller CANCELs while a pre-route stage still runs (caller ID lookup, authorization), held there by a real
 *    PostgreSQL table lock: the server answers 487 at once, the stage finishes, no carrier is tried, the CDR says
 *    canceled/487, nothing stays held.
 * Real sipp, edge, Redis and PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { createLimits } from '../../src/sip/limits.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { scenarioFor } from './harness.js';
import { useHarness } from './use-harness.js';

const h = useHarness();

const CALLEE = '13800138000';

/** What the tenant still has in Redis (all buckets), and its live limit slots. */
async function held(tenantId: string): Promise<{ available: bigint; slots: number }> {
  const buckets = await h.redis.hvals(h.redis.layout.buckets(tenantId));
  const slots = await createLimits(h.redis, { timeZone: h.config.service.timezone }).liveCount(tenantId);
  return { available: buckets.reduce((a, v) => a + BigInt(v), 0n), slots };
}

/** Holds an ACCESS EXCLUSIVE lock on `table` (every read of it waits) until release(). */
async function lockTable(table: string): Promise<{ release(): Promise<void> }> {
  const c = await h.db.pool.connect();
  await c.query('begin');
  await c.query(`lock table ${table} in access exclusive mode`);
  return {
    async release() {
      await c.query('rollback');
      c.release();
    },
  };
}

/** Resolves once a query of this database waits for a lock on a statement that mentions `table`. */
async function waitingOn(table: string): Promise<void> {
  await eventually(`a query waiting for the lock on ${table}`, async () => {
    const r = await h.db.pool.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like $1`, [`%${table}%`]);
    return r.rows[0]!.n > 0;
  });
}

describe('INVITE handler crash', () => {
  it('after authorization: the caller gets 500, the CDR is failed/500 with nothing charged, hold and slot given back', async () => {
    const tenantId = await h.tenant({ code: 'crash', number: '+8657100000071', balanceFen: 1000n, maxConcurrent: 1 });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);
    // routing reads the gateways after every stage passed: make that read fail (a schema fault), nothing else
    await h.db.pool.query('alter table carrier_gateways rename to carrier_gateways_away');
    let caller;
    try {
      caller = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 500, CHECK_REASON: 'true' }), { caller: '+8657100000071', callee: CALLEE });
    } finally {
      await h.db.pool.query('alter table carrier_gateways_away rename to carrier_gateways');
    }
    expect(caller).toMatchObject({ successful: 1, failed: 0 }); // 500 with a Reason
    const [cdr] = await h.cdrs({ tenantId }, 1);
    expect(cdr).toMatchObject({ result: 'failed', sip_status: 500, disconnect_reason: 'internal error', charge_fen: 0n, answer_at: null });
    expect(h.app.activeCalls()).toBe(0);
    expect(await held(tenantId)).toEqual({ available: 1000n, slots: 0 });
    expect(await h.ledgerBalance(tenantId)).toBe(1000n);
    // and the tenant calls again at once (max_concurrent 1: the slot really was given back)
    const carrier = await h.carrier('call-uas-answer.xml', port);
    expect(await h.call('call-uac-answer.xml', { caller: '+8657100000071', callee: CALLEE, holdMs: 200 })).toMatchObject({ successful: 1 });
    expect(await carrier.done).toMatchObject({ successful: 1 });
  });
});

describe('CANCEL during the pre-route stages', () => {
  for (const [stage, table, code, number] of [
    ['the caller ID lookup', 'numbers', 'cancelid', '+8657100000072'],
    ['authorization (rate deck load), after the limit slot was taken', 'rate_deck_entries', 'cancelauth', '+8657100000073'],
  ] as const) {
    it(`while ${stage} runs: 487 at once, no carrier tried, CDR canceled/487, nothing held`, async () => {
      const tenantId = await h.tenant({ code, number, balanceFen: 1000n, maxConcurrent: 1 });
      const port = await freePort();
      await h.gateways([{ name: 'gw-untouched', port }]); // trying it would name it in the CDR
      const lock = await lockTable(table);
      let caller;
      try {
        const calling = h.call('call-uac-cancel-early.xml', { caller: number, callee: CALLEE });
        await waitingOn(table);
        caller = await calling; // INVITE, 100, CANCEL, 200, 487, ACK: all while the stage is held
        expect(h.app.activeCalls()).toBe(1); // the session is still inside the stage
      } finally {
        await lock.release();
      }
      expect(caller).toMatchObject({ successful: 1, failed: 0 });
      const [cdr] = await h.cdrs({ tenantId }, 1);
      expect(cdr).toMatchObject({ result: 'canceled', sip_status: 487, disconnect_side: 'caller', gateway: null, charge_fen: 0n });
      await eventually('the session ended', () => h.app.activeCalls() === 0);
      expect(await held(tenantId)).toEqual({ available: 1000n, slots: 0 });
    });
  }
});
