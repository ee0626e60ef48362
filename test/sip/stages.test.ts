/**
 * The request stages (src/sip/stages.ts) one at a time, on real PostgreSQL (the directory), real Redis (limits) and
 * the real charging engine. The INVITE is a plain-object double of srf's request (the stages read only its From,
 * P-Asserted-Identity and request URI); the whole chain on real SIP runs in test/e2e/call-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createChargingEngine, type Engine } from '../../src/charging/engine.js';
import type { ChargingRedis } from '../../src/charging/redis.js';
import { callIdFor, newCallContext, type CallContext } from '../../src/sip/call-context.js';
import { CallSession } from '../../src/sip/call-session.js';
import { localMinutes } from '../../src/sip/decisions.js';
import { createDirectory, type TenantInfo } from '../../src/sip/directory.js';
import { createLimits, type Limits } from '../../src/sip/limits.js';
import type { SipServer } from '../../src/sip/servers.js';
import type { SrfRequest, SrfResponse } from '../../src/sip/srf-types.js';
import { authorize, checkDestinationAndTime, checkDraining, checkLimits, identifyCaller, type StageDeps } from '../../src/sip/stages.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { seedTenant } from '../helpers/tenants.js';
import { freePort } from '../helpers/ports.js';

const logger = pino({ level: 'silent' });
const prefix = testPrefix();
const PAID = '+8657188881111';
const BROKE = '+8657188882222';
let db: TestDb;
let redis: ChargingRedis;
let config: Config;
let engine: Engine;
let limits: Limits;
let deps: StageDeps;
let paidId: string;
let n = 0;

beforeAll(async () => {
  db = await createTestDb();
  redis = testChargingRedis(prefix, {}, { enableOfflineQueue: true });
  config = loadConfig({}, { 'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'log.level': 'silent' });
  engine = createChargingEngine({ redis, pool: db.pool, config, logger, instanceId: 'stages', sweepIntervalMs: 0 });
  limits = createLimits(redis, { timeZone: config.service.timezone });
  paidId = await seedTenant(db.pool, redis, { code: 'paid', number: PAID, balanceFen: 10_000n, maxConcurrent: 1 });
  await seedTenant(db.pool, redis, { code: 'broke', number: BROKE, balanceFen: 0n });
  deps = { config, directory: createDirectory(db.pool, { ttlMs: 0 }), limits, charging: engine, draining: false };
});
afterAll(async () => {
  await engine.idle();
  await engine.close();
  await deleteKeys(TEST_REDIS_URL, prefix);
  await redis.quit();
  await db.drop();
});

/** An INVITE as the stages see it (a double: only From, P-Asserted-Identity and the request URI). */
function invite(o: { from: string; pai?: string; uri?: string }): SrfRequest {
  const headers: Record<string, string> = { from: `<sip:${o.from}@10.0.0.5>;tag=f${n}`, ...(o.pai ? { 'p-asserted-identity': `<sip:${o.pai}@10.0.0.5>` } : {}) };
  return {
    uri: o.uri ?? 'sip:13800138000@10.0.0.1',
    headers,
    get: (name: string) => headers[name.toLowerCase()],
    getParsedHeader: () => ({ uri: `sip:${o.from}@10.0.0.5`, params: { tag: `f${n}` } }),
  } as unknown as SrfRequest;
}

/** A call past the door: context with its trunk and a real CallSession in it. */
function call(req: SrfRequest, failurePolicy: 'terminate' | 'continue' = 'terminate'): CallContext & { session: CallSession } {
  const callId = callIdFor(`stages-${++n}`, 'f');
  const ctx = newCallContext({ name: 'test' } as SipServer, req, {} as SrfResponse, logger.child({}));
  ctx.trunk = { id: '1', name: 'ccc', failurePolicy };
  ctx.session = new CallSession(
    { charging: engine, limits, logger, failurePolicy, onEnded: () => undefined },
    { callId, aCallId: `stages-${n}`, bCallId: null, tenantId: null, caller: '', callee: '', ingressTrunk: 'ccc', gateway: null, inviteAt: ctx.now, ringAt: null, answerAt: null },
  );
  return ctx as CallContext & { session: CallSession };
}

/** A call whose caller was identified (identifyCaller passed). */
async function identified(number = PAID, uri?: string): Promise<CallContext & { session: CallSession; tenant: TenantInfo }> {
  const ctx = call(invite({ from: number, ...(uri ? { uri } : {}) }));
  expect(await identifyCaller(ctx, deps)).toBeNull();
  return ctx as CallContext & { session: CallSession; tenant: TenantInfo };
}

const hhmm = (m: number) => `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00`;

describe('identifyCaller', () => {
  it('P-Asserted-Identity names the tenant (CALLER_ID_SOURCE=pai); the CDR facts get the caller and tenant', async () => {
    const ctx = call(invite({ from: '+8657100009999', pai: '0571-8888-1111' }));
    expect(await identifyCaller(ctx, deps)).toBeNull();
    expect(ctx.callerE164).toBe(PAID);
    expect(ctx.tenant?.id).toBe(paidId);
    expect(ctx.session.facts).toMatchObject({ caller: PAID, tenantId: paidId });
  });

  it('without PAI, or with CALLER_ID_SOURCE=from, the From user is the caller', async () => {
    const noPai = call(invite({ from: '057188881111' }));
    expect(await identifyCaller(noPai, deps)).toBeNull();
    expect(noPai.tenant?.id).toBe(paidId);
    const fromOnly = call(invite({ from: PAID, pai: '+8657100009999' }));
    const fromConfig = { ...config, sip: { ...config.sip, callerIdSource: 'from' as const } };
    expect(await identifyCaller(fromOnly, { ...deps, config: fromConfig })).toBeNull();
    expect(fromOnly.callerE164).toBe(PAID);
  });

  it('a number no tenant holds: 403 caller_id, no tenant; not a number: 403 and the raw user in the CDR', async () => {
    const stranger = call(invite({ from: '+8657100009999' }));
    expect(await identifyCaller(stranger, deps)).toMatchObject({ status: 403, reason: 'caller_id', text: 'caller ID not held by any tenant' });
    expect(stranger.tenant).toBeNull();
    expect(stranger.session.facts.tenantId).toBeNull();
    const anonymous = call(invite({ from: 'anonymous' }));
    expect(await identifyCaller(anonymous, deps)).toMatchObject({ status: 403, reason: 'caller_id', text: 'caller ID is not a valid number' });
    expect(anonymous.session.facts.caller).toBe('anonymous');
  });
});

describe('checkDraining', () => {
  it('a draining instance refuses with 503 draining and Retry-After 5; otherwise the call goes on', async () => {
    const ctx = await identified();
    expect(checkDraining(ctx, { ...deps, draining: true })).toMatchObject({ status: 503, reason: 'draining', retryAfter: 5 });
    expect(checkDraining(ctx, deps)).toBeNull();
  });
});

describe('checkDestinationAndTime', () => {
  it('the callee in E.164 for the CDR; blocked prefix 403; not a number 484 with the raw user kept', async () => {
    const ok = await identified();
    expect(checkDestinationAndTime(ok, deps)).toBeNull();
    expect(ok.calleeE164).toBe('+8613800138000');
    expect(ok.session.facts.callee).toBe('+8613800138000');

    const blocked = await identified(PAID, 'sip:16812345678@10.0.0.1');
    blocked.tenant = { ...blocked.tenant, blockedPrefixes: ['86168'] };
    expect(checkDestinationAndTime(blocked, deps)).toMatchObject({ status: 403, reason: 'blocked', text: 'destination prefix 86168 blocked' });

    const junk = await identified(PAID, 'sip:12ab@10.0.0.1');
    expect(checkDestinationAndTime(junk, deps)).toMatchObject({ status: 484, reason: 'no_route' });
    expect(junk.session.facts.callee).toBe('12ab');
  });

  it('outside the calling hours in the service zone: 480 hours', async () => {
    const ctx = await identified();
    const m = localMinutes(ctx.now, config.service.timezone);
    ctx.tenant = { ...ctx.tenant, callingHoursFrom: hhmm(m + 60), callingHoursTo: hhmm(m + 120) };
    expect(checkDestinationAndTime(ctx, deps)).toMatchObject({ status: 480, reason: 'hours' });
  });
});

describe('checkLimits', () => {
  it('admits into a slot that the end path releases; the next call over max concurrent gets 503 limit', async () => {
    const first = await identified();
    expect(await checkLimits(first, deps)).toBeNull();
    expect(await limits.liveCount(paidId)).toBe(1);
    const second = await identified();
    expect(await checkLimits(second, deps)).toMatchObject({ status: 503, reason: 'limit', text: 'maximum calls in progress 1 reached' });
    await second.session.endUnanswered({ result: 'rejected', sipStatus: 503 });
    expect(await limits.liveCount(paidId)).toBe(1); // the refused call held no slot
    await first.session.endUnanswered({ result: 'rejected', sipStatus: 480 });
    expect(await limits.liveCount(paidId)).toBe(0);
  });

  it('daily spend cap reached: 403 limit before any slot is taken', async () => {
    const ctx = await identified();
    ctx.tenant = { ...ctx.tenant, id: '990001', dailySpendCapFen: 5000n };
    await limits.addSpend('990001', 5000n, ctx.now);
    expect(await checkLimits(ctx, deps)).toMatchObject({ status: 403, reason: 'limit', text: 'daily spend cap reached' });
    expect(await limits.liveCount('990001')).toBe(0);
  });

  it('limits store down: the trunk policy decides (continue: go on; terminate: 503 store_down)', async () => {
    // a real client on a port where no Redis listens: every command fails at once
    const dead = testChargingRedis(prefix, {}, { enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null }, `redis://127.0.0.1:${await freePort()}/15`);
    const down = { ...deps, limits: createLimits(dead, { timeZone: config.service.timezone }) };
    const terminate = await identified();
    expect(await checkLimits(terminate, down)).toMatchObject({ status: 503, reason: 'store_down', text: 'limits store unavailable' });
    const cont = call(invite({ from: PAID }), 'continue');
    expect(await identifyCaller(cont, deps)).toBeNull();
    expect(await checkLimits(cont, down)).toBeNull();
    dead.disconnect();
  });
});

describe('authorize (real charging engine)', () => {
  it('a tenant with credit is granted; one without gets 402 no_balance and is not granted', async () => {
    const paid = await identified();
    expect(checkDestinationAndTime(paid, deps)).toBeNull();
    expect(await authorize(paid, deps)).toBeNull();
    expect(paid.session.granted).toBe(true);
    await paid.session.endUnanswered({ result: 'canceled', sipStatus: 487 });

    const broke = await identified(BROKE);
    expect(checkDestinationAndTime(broke, deps)).toBeNull();
    expect(await authorize(broke, deps)).toMatchObject({ status: 402, reason: 'no_balance' });
    expect(broke.session.granted).toBe(false);
  });

  it('a context whose tenant is not the call\'s tenant is refused before the engine reserves anything', async () => {
    const ctx = await identified(BROKE);
    expect(checkDestinationAndTime(ctx, deps)).toBeNull();
    ctx.tenant = { ...ctx.tenant, id: paidId };
    await expect(authorize(ctx, deps)).rejects.toThrow(/not the tenant of the call/);
    expect(ctx.session.granted).toBe(false);
  });
});

describe('callIdFor', () => {
  it('one id per A Call-ID + From tag: 32 hex digits, the same for a retransmission, another for another tag', () => {
    const id = callIdFor('abc@10.0.0.5', 'f1');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(callIdFor('abc@10.0.0.5', 'f1')).toBe(id);
    expect(callIdFor('abc@10.0.0.5', 'f2')).not.toBe(id);
  });
});
