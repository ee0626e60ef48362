/**
 * Announcements in the worker mode of `npm start`: src/main.ts as a child process with SIP_WORKERS=2 (the embedded
 * edge in the primary thread, call control in two worker threads, each with its own media pool) and MEDIA_SERVER
 * on a real FreeSWITCH on spare ports. Real sipp calls; the callers' and the callee's media ports are UDP sockets
 * of this test that find each prompt by its tone. Refusal prompts and low-credit warnings are heard on calls taken
 * by each worker; /readyz and /metrics of the instance show the media server.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitReady, type ChargingRedis } from '../../src/charging/redis.js';
import { startAppProcess, type AppProcess } from '../helpers/app-process.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';
import { deleteKeys, TEST_REDIS_URL, testChargingRedis, testPrefix } from '../helpers/redis.js';
import { seedTenant } from '../helpers/tenants.js';
import { killSipps, runSipp, scenarioFor, type SippResult } from '../e2e/harness.js';
import { metricsText, readyz } from '../e2e/topology-fixture.js';
import { skipReason, startFreeSwitch, type FreeSwitch } from './freeswitch.js';
import { PROMPT_SECONDS } from './media-helpers.js';
import { ALL_TONES, makeTonePrompts, openRtpSink, TONES, type RtpSink } from './rtp.js';

const promptFrames = Math.floor((PROMPT_SECONDS * 1000) / 20);
const WARNING_SECONDS = 5;
const prefix = testPrefix();
let fs: FreeSwitch;
let db: TestDb;
let redis: ChargingRedis;
let app: AppProcess | null = null;
let sipPort = 0;
let promptsDir = '';

/** The workers (index) that logged 'announcement played' for `prompt` (worker threads' loggers carry `worker`). */
function playedBy(prompt: string): number[] {
  return app!.logs().filter((l) => l.msg === 'announcement played' && l.prompt === prompt && typeof l.worker === 'number').map((l) => l.worker as number);
}

/** The value of the sample of `name` whose labels include every `labels` pair (0 when absent). */
function labelled(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// The call center and the carrier on addresses of their own, so FreeSWITCH (127.0.0.1) is neither a trunk nor a
// gateway: the edge admits it as a peer of the app's INVITEs to it and as a media server, whose address the workers
// report to the primary's allow-list.
const TRUNK_IP = '127.0.0.2';
const CARRIER_IP = '127.0.0.3';

function uac(scenario: string, caller: string, sink: RtpSink, timeoutSeconds = 30): Promise<SippResult> {
  return freePort().then((p) => runSipp(scenario, [
    `127.0.0.1:${sipPort}`, '-p', String(p), '-m', '1', '-s', '13800138000', '-key', 'caller', caller, '-key', 'rtp_port', String(sink.port),
  ], TRUNK_IP, timeoutSeconds));
}

/** Until something (the carrier's sipp) has bound udp `ip:port`. */
async function waitForUdp(ip: string, port: number): Promise<void> {
  await eventually(`udp ${ip}:${port} bound`, () => new Promise<boolean | null>((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => { u.close(); resolve(true); });
    u.bind(port, ip, () => u.close(() => resolve(null)));
  }), 10_000);
}

describe.skipIf(skipReason !== null)(skipReason ?? 'announcements with npm start and SIP_WORKERS=2 (a media pool per call-control worker)', () => {
  let carrierPort = 0;

  beforeAll(async () => {
    fs = await startFreeSwitch();
    db = await createTestDb();
    redis = testChargingRedis(prefix);
    await waitReady(redis);
    carrierPort = await freePort();
    await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc-test', $1)`, [TRUNK_IP]);
    await db.pool.query(`insert into carrier_gateways (name, host, port) values ('carrier', $1, $2)`, [CARRIER_IP, carrierPort]);
    promptsDir = mkdtempSync(join(tmpdir(), 'media-prompts-'));
    makeTonePrompts(promptsDir, PROMPT_SECONDS);
    sipPort = await freePort();
    app = await startAppProcess({
      DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4', REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
      SIP_PORT: String(sipPort), SIP_TRANSPORTS: 'udp', DRACHTIO_PORT: String(await freePort()), SIP_WORKERS: '2',
      DEMO_AUTO_SEED: 'false', SCHEDULER_ENABLED: 'false', SIP_OPTIONS_PING_SECONDS: '0', DRAIN_SECONDS: '1', MAINTENANCE_INTERVAL_SECONDS: '3600',
      MEDIA_SERVER: fs.spec, MEDIA_PROMPTS_DIR: promptsDir, MEDIA_TIMEOUT_MS: '1500', MEDIA_RECONNECT_SECONDS: '1',
      WARNING_SECONDS: String(WARNING_SECONDS),
    }, 90_000);
    // both workers' pools connected (a media server is not critical: the instance is ready before that)
    await eventually('media server up on both workers', async () => {
      const r = await readyz(app!.base);
      return r.body.components.media_1 === true || null;
    }, 30_000);
  }, 180_000);
  afterEach(() => killSipps());
  afterAll(async () => {
    await app?.stop();
    redis?.disconnect();
    await deleteKeys(TEST_REDIS_URL, prefix);
    await db?.drop();
    await fs?.stop();
    if (promptsDir) rmSync(promptsDir, { recursive: true, force: true });
  });

  it('the primary puts the media server\'s address in the edge\'s SIP source allow-list (reported by the workers)', () => {
    const lines = app!.logs().filter((l) => l.msg === 'media server addresses in the SIP source allow-list');
    expect(lines.at(-1)?.hosts).toEqual(['127.0.0.1']);
  });

  it('/readyz shows the media server (non-critical, up on every worker) and /metrics its state once', async () => {
    const r = await readyz(app!.base);
    expect(r.status).toBe(200);
    expect(r.body.components).toMatchObject({ drachtio: true, media_1: true });
    expect((r.body as { optional?: string[] }).optional).toEqual(['media_1']);
    expect((r.body.details as Record<string, Record<string, boolean>> | undefined)?.media_1).toEqual({ 'worker-1': true, 'worker-2': true });
    const m = await metricsText(app!.base);
    const server = `127.0.0.1:${fs.eslPort}`;
    expect(m.split('\n').filter((l) => l.startsWith('softswitch_media_server_up{')).map((l) => l.replace(/ .*/, ''))).toEqual([`softswitch_media_server_up{server="${server}"}`]);
    expect(labelled(m, 'softswitch_media_server_up', { server })).toBe(1);
    expect(labelled(m, 'softswitch_component_up', { component: 'media_1' })).toBe(1);
  });

  it('402 no balance on calls taken by both workers: each caller hears the no_balance prompt before the 402; no charge', async () => {
    const t = await seedTenant(db.pool, redis, { code: 'broke', number: '+8657188880011', balanceFen: 0n });
    let calls = 0;
    // new INVITEs go to the workers in turn; place refused calls until each worker has played one (at most 6)
    while (new Set(playedBy('no_balance')).size < 2 && calls < 6) {
      const sink = await openRtpSink();
      const r = await uac(scenarioFor('media-uac-refused.xml', { STATUS: 402, EARLY_OPTIONAL: 'false' }), '+8657188880011', sink);
      calls++;
      expect(r, r.errors).toMatchObject({ successful: 1, failed: 0 });
      expect(sink.dominant(ALL_TONES)?.freq).toBe(TONES.zh.no_balance);
      expect(sink.toneFrames(TONES.zh.no_balance)).toBeGreaterThanOrEqual(promptFrames * 0.8);
      await sink.close();
      await eventually('announcement logged', async () => playedBy('no_balance').length === calls || null);
    }
    expect([...new Set(playedBy('no_balance'))].sort()).toEqual([1, 2]);
    // /metrics sums the workers' counters
    expect(labelled(await metricsText(app!.base), 'softswitch_announcements_total', { prompt: 'no_balance', result: 'played' })).toBe(calls);
    const cdrs = await eventually(`${calls} CDRs`, async () => {
      const q = await db.pool.query<{ result: string; reject_reason: string; sip_status: number; charge_fen: string }>(
        `select result, reject_reason, sip_status, charge_fen::text from cdrs where tenant_id = $1`, [t]);
      return q.rows.length === calls ? q.rows : null;
    });
    for (const c of cdrs) expect(c).toEqual({ result: 'rejected', reject_reason: 'no_balance', sip_status: 402, charge_fen: '0' });
  });

  it(`low-credit warning on calls taken by both workers: the caller alone hears it; cut when the credit is gone, charged exactly`, async () => {
    // 6 CNY/min = 10 fen/s: 120 fen = 12 s of credit, the warning WARNING_SECONDS before the cut
    const callee = await openRtpSink();
    const carrier = runSipp('media-uas-answer.xml', ['-p', String(carrierPort), '-m', '2', '-key', 'rtp_port', String(callee.port)], CARRIER_IP, 90);
    await waitForUdp(CARRIER_IP, carrierPort);
    const tenants: string[] = [];
    const sinks: RtpSink[] = [];
    const warned = scenarioFor('media-uac-warned.xml', { '<!--REINVITES': '', 'REINVITES-->': '' });
    const runs: Promise<SippResult>[] = [];
    for (let i = 0; i < 2; i++) {
      const number = `+865718888002${i}`;
      const t = await seedTenant(db.pool, redis, { code: `warned${i}`, number, balanceFen: 120n });
      await db.pool.query('update tenants set low_credit_warning = true where id = $1', [t]);
      tenants.push(t);
      const sink = await openRtpSink();
      sinks.push(sink);
      runs.push(uac(warned, number, sink, 60)); // one after the other: the edge hands them to the workers in turn
      await eventually('call answered', async () => app!.logs().filter((l) => l.msg === 'call answered').length === i + 1 || null, 20_000);
    }
    for (const r of await Promise.all(runs)) expect(r, r.errors).toMatchObject({ successful: 1, failed: 0 }); // took the two re-INVITEs, then the BYE
    expect((await carrier).failed).toBe(0);
    const answeredBy = app!.logs().filter((l) => l.msg === 'call answered').map((l) => l.worker as number).sort();
    expect(answeredBy).toEqual([1, 2]);
    for (const s of sinks) {
      expect(s.dominant(ALL_TONES)?.freq).toBe(TONES.zh.low_credit);
      expect(s.toneFrames(TONES.zh.low_credit)).toBeGreaterThanOrEqual(promptFrames * 0.8);
    }
    expect(callee.packets()).toBe(0);
    await eventually('both warnings logged', async () => playedBy('low_credit').length === 2 || null);
    expect(playedBy('low_credit').sort()).toEqual([1, 2]);
    for (const t of tenants) {
      const c = await eventually('CDR', async () => (await db.pool.query<{ result: string; disconnect_reason: string; billable_seconds: number; charge_fen: string }>(
        `select result, disconnect_reason, billable_seconds, charge_fen::text from cdrs where tenant_id = $1`, [t])).rows[0] ?? null);
      expect(c).toEqual({ result: 'answered', disconnect_reason: 'balance exhausted', billable_seconds: 12, charge_fen: '120' });
    }
    for (const s of [callee, ...sinks]) await s.close();
  });

  it('FreeSWITCH SIGKILLed: both workers see it down, the instance stays ready, a refusal goes on without a prompt (skipped); both reconnect after its restart', async () => {
    await fs.kill();
    await eventually('media server down on both workers', async () => {
      const r = await readyz(app!.base);
      const d = (r.body.details as Record<string, Record<string, boolean>> | undefined)?.media_1;
      return r.body.components.media_1 !== true && d?.['worker-1'] === false && d['worker-2'] === false ? r : null;
    }, 20_000).then((r) => expect(r.status).toBe(200)); // non-critical: still ready
    expect(labelled(await metricsText(app!.base), 'softswitch_media_server_up', { server: `127.0.0.1:${fs.eslPort}` })).toBe(0);
    const skippedBefore = labelled(await metricsText(app!.base), 'softswitch_announcements_total', { prompt: 'no_balance', result: 'skipped' });
    // one refused call on each worker: no 183 needed, nothing heard, the 402 all the same
    for (let i = 0; i < 2; i++) {
      const sink = await openRtpSink();
      const r = await uac(scenarioFor('media-uac-refused.xml', { STATUS: 402, EARLY_OPTIONAL: 'true' }), '+8657188880011', sink);
      expect(r, r.errors).toMatchObject({ successful: 1, failed: 0 });
      expect(sink.packets()).toBe(0);
      await sink.close();
    }
    expect(labelled(await metricsText(app!.base), 'softswitch_announcements_total', { prompt: 'no_balance', result: 'skipped' })).toBe(skippedBefore + 2);
    const skippedBy = () => app!.logs().filter((l) => l.msg === 'announcement not played' && l.prompt === 'no_balance' && l.result === 'skipped').map((l) => l.worker as number);
    expect((await eventually('both skips logged', async () => (skippedBy().length === 2 ? skippedBy() : null))).sort()).toEqual([1, 2]);
    await fs.restart();
    await eventually('both workers reconnected', async () => {
      const r = await readyz(app!.base);
      return r.body.components.media_1 === true || null;
    }, 30_000);
    expect((await readyz(app!.base)).body.details).toMatchObject({ media_1: { 'worker-1': true, 'worker-2': true } });
  });
});
