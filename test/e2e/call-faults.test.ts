/**
 * SIP app end to end with the charging store down: this file runs its OWN redis-server (never the shared one, with
 * an append-only file as production Redis has), SIGKILLs it mid-test and starts it again on the same data. Calls are
 * refused with 503 + Reason while Redis is gone, the refusal's CDR is not lost (written once Redis is back), and
 * calls work again after recovery.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitReady } from '../../src/charging/redis.js';
import { freePort } from '../helpers/ports.js';
import { killSipps, scenarioFor, startHarness, type Harness } from './harness.js';

let h: Harness;
let redisPort = 0;
let redisProc: ChildProcess | null = null;
const redisDir = mkdtempSync(join(tmpdir(), 'sip-faults-redis-'));

async function startRedis(): Promise<void> {
  redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', redisDir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const p = spawn('redis-cli', ['-p', String(redisPort), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      p.on('exit', () => resolve(out.includes('PONG')));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('own redis-server did not start');
}

async function killRedis(): Promise<void> {
  const p = redisProc;
  redisProc = null;
  if (!p || p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

beforeAll(async () => {
  redisPort = await freePort();
  await startRedis();
  h = await startHarness({ 'redis.url': `redis://127.0.0.1:${redisPort}/0` });
});
afterEach(() => killSipps());
afterAll(async () => {
  if (!redisProc) await startRedis().catch(() => undefined);
  await h?.close();
  await killRedis();
  rmSync(redisDir, { recursive: true, force: true });
});

describe('charging store down', () => {
  it('503 with Reason while Redis is down; the refusal CDR is written after recovery; calls work again', async () => {
    const tenantId = await h.tenant({ code: 'faults', number: '+8657100000021', balanceFen: 1000n });
    const port = await freePort();
    await h.gateways([{ name: 'gw-a', port }]);

    await killRedis();
    const refused = await h.call(scenarioFor('call-uac-reject.xml', { STATUS: 503, CHECK_REASON: 'true' }), { caller: '+8657100000021', callee: '13800138000' });
    expect(refused).toMatchObject({ successful: 1, failed: 0 });
    expect(h.app.activeCalls()).toBe(0);

    await startRedis();
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
