/**
 * The carrier outage log's writer against its own PostgreSQL server (stopped and started here; never the shared
 * one): gateway changes from the health checks are queued while PostgreSQL is down and written, with the instants
 * they were seen, when it is back; the same change from two instances leaves one period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { GatewayHealth } from '../../src/sip/gateways.js';
import { applyGatewayChange, listGatewayOutages } from '../../src/store/outages.js';
import { createOutageRecorder } from '../../src/outages/recorder.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-pg.js';
import { eventually } from '../helpers/poll.js';

let pg: OwnPostgres;
let pool: Pool;
const lines: { msg: string; level: number }[] = [];
const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; level: number }) });

beforeAll(async () => {
  pg = await startOwnPostgres();
  pool = createPool(pg.url, 4);
  await migrate(pool);
}, 120_000);
afterAll(async () => {
  await pool?.end();
  pg?.destroy();
});

const T = Date.UTC(2026, 4, 1, 2, 0, 0);
const s = (n: number) => T + n * 1000;

describe('outage log writer', () => {
  it('health checks → periods: down from the first failed ping; queued while PostgreSQL is down, written in order when it is back', async () => {
    const rec = createOutageRecorder({ pool, logger, instanceId: 'sip-1', retryMs: 100 });
    const health = new GatewayHealth(2, (c) => rec.record(c));
    health.record('a', true, s(0)); // first answer: a is up (closes nothing)
    health.record('a', false, s(10));
    health.record('a', false, s(20)); // down since s(10)
    await rec.flush();
    expect((await listGatewayOutages(pool)).map((o) => [o.gateway, o.from.getTime(), o.to])).toEqual([['a', s(10), null]]);

    pg.stop();
    expect(health.record('a', true, s(30))).toBe(true); // never waits on the log
    health.record('b', false, s(40));
    health.record('b', false, s(50));
    await eventually('a failed write', () => lines.some((l) => /not writable/.test(l.msg)));
    expect(rec.pending()).toBe(2);
    pg.start();
    await rec.flush();
    expect(rec.pending()).toBe(0);
    expect((await listGatewayOutages(pool)).map((o) => [o.gateway, o.from.getTime(), o.to?.getTime() ?? null, o.downSeenBy, o.upSeenBy]))
      .toEqual([['a', s(10), s(30), 'sip-1', 'sip-1'], ['b', s(40), null, 'sip-1', null]]);
    expect(lines.some((l) => /writable again/.test(l.msg))).toBe(true);
    await rec.close();
  }, 120_000);

  it('the same change twice or from two instances is one period; an up older than the open period leaves it open', async () => {
    const c = { gateway: 'c', up: false, at: new Date(s(100)) };
    expect(await applyGatewayChange(pool, c, 'sip-1')).toBe('opened');
    expect(await applyGatewayChange(pool, { ...c, at: new Date(s(101)) }, 'sip-2')).toBe('unchanged');
    expect(await applyGatewayChange(pool, { gateway: 'c', up: true, at: new Date(s(99)) }, 'sip-2')).toBe('unchanged');
    expect(await applyGatewayChange(pool, { gateway: 'c', up: true, at: new Date(s(150)) }, 'sip-2')).toBe('closed');
    expect(await applyGatewayChange(pool, { gateway: 'c', up: true, at: new Date(s(160)) }, 'sip-1')).toBe('unchanged');
    expect((await listGatewayOutages(pool, { gateway: 'c' })).map((o) => [o.from.getTime(), o.to?.getTime(), o.downSeenBy, o.upSeenBy])).toEqual([[s(100), s(150), 'sip-1', 'sip-2']]);
    // range filter: periods overlapping [from, to)
    expect(await listGatewayOutages(pool, { gateway: 'c', from: new Date(s(150)) })).toEqual([]);
    expect(await listGatewayOutages(pool, { gateway: 'c', to: new Date(s(100)) })).toEqual([]);
    expect(await listGatewayOutages(pool, { gateway: 'c', from: new Date(s(149)), to: new Date(s(101)) })).toHaveLength(1);
  });

  it('a bounded queue: past maxQueue the oldest change is dropped and logged', async () => {
    const rec = createOutageRecorder({ pool, logger, instanceId: 'sip-3', maxQueue: 2, retryMs: 100 });
    pg.stop();
    try {
      rec.record({ gateway: 'd', up: false, at: new Date(s(200)) });
      rec.record({ gateway: 'd', up: true, at: new Date(s(210)) });
      rec.record({ gateway: 'e', up: false, at: new Date(s(220)) });
      expect(rec.pending()).toBe(2);
      expect(lines.some((l) => l.level === 50 && /queue full/.test(l.msg))).toBe(true);
    } finally {
      pg.start();
    }
    await rec.flush();
    // d's down was dropped, so its up closes nothing; e's down is written
    expect((await listGatewayOutages(pool)).filter((o) => o.gateway === 'd' || o.gateway === 'e').map((o) => o.gateway)).toEqual(['e']);
    await rec.close();
  }, 120_000);
});

describe('GatewayHealth changes', () => {
  it('reports a state only once it is established, and each change once', () => {
    const seen: [string, boolean, number][] = [];
    const h = new GatewayHealth(2, (c) => seen.push([c.gateway, c.up, c.at.getTime()]));
    h.record('x', false, 1); // one failure: not established either way
    h.record('x', true, 2); // answered: up
    h.record('x', true, 3);
    h.record('x', false, 4);
    h.record('x', false, 5); // down since 4
    h.record('x', false, 6);
    h.record('x', true, 7);
    expect(seen).toEqual([['x', true, 2], ['x', false, 4], ['x', true, 7]]);
  });
});
