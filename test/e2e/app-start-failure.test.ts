/**
 * Start-up failures of the composition root (src/app.ts startApp) and of `npm start` (src/main.ts): a clear error,
 * and nothing left behind — every socket, timer and connection the parts opened before the failure is closed (the
 * process's active handles return to what they were, the SIP, control and HTTP ports can be bound again, the
 * database sees none of its connections). Real PostgreSQL and Redis; the failures are real (a port nothing listens
 * on, a port already taken).
 */
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { startApp } from '../../src/app.js';
import { projectPath } from '../../src/util/paths.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/poll.js';

let db: TestDb;
const prefix = testPrefix();
const silent = pino({ level: process.env.SIP_TEST_LOG ?? 'silent' });

beforeAll(async () => {
  db = await createTestDb({ migrate: false });
});
afterAll(async () => {
  await deleteKeys(TEST_REDIS_URL, prefix);
  await db?.drop();
});

/** Active handles of this process by kind (sockets, servers, timers...). */
function handles(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** Waits until no kind of handle is above its count in `before` (closing is asynchronous); returns what stays above. */
async function backTo(before: Map<string, number>): Promise<void> {
  const above = () => [...handles()].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k} ${before.get(k) ?? 0} -> ${n}`);
  await eventually('handles back to their count before start-up', () => above().length === 0).catch(() => {
    // which sockets: local and remote ports tell the part (Redis 6379, PostgreSQL 5432, the edge's control port...)
    const sockets = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
      .filter((x): x is { localPort?: number; remotePort?: number } => x?.constructor?.name === 'Socket')
      .map((x) => `${x.localPort}->${x.remotePort}`);
    throw new Error(`left open after a failed start: ${above().join(', ')} (sockets: ${sockets.join(' ')})`);
  });
}

async function canBindTcp(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function canBindUdp(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Connections to this test's database (the test's own pool included). */
async function connections(): Promise<number> {
  const r = await db.pool.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database()`);
  return r.rows[0]!.n;
}

function configWith(over: Record<string, unknown>): ReturnType<typeof loadConfig> {
  return loadConfig({}, {
    'postgres.url': db.url, 'redis.url': TEST_REDIS_URL, 'redis.keyPrefix': prefix, 'http.host': '127.0.0.1',
    'demo.autoSeed': false, 'sip.optionsPingSeconds': 0, 'log.level': 'silent', ...over,
  });
}

describe('startApp failing to start', () => {
  it('PostgreSQL unreachable: rejects with the connection error, nothing left open', async () => {
    const deadPort = await freePort(); // nothing listens there
    const before = handles();
    const failed = await startApp(configWith({
      'postgres.url': `postgres://postgres@127.0.0.1:${deadPort}/none`, 'http.port': await freePort(), 'edge.sipPort': await freePort(), 'drachtio.port': await freePort(),
    }), silent).then(() => null, (e: unknown) => e as Error);
    expect(failed?.message).toMatch(new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${deadPort}`));
    await backTo(before);
  });

  it('HTTP port taken (after the database, Redis, charging, outbox, SIP edge and srf are up): rejects EADDRINUSE, every part closed again', async () => {
    const [sipPort, controlPort] = [await freePort(), await freePort()];
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const httpPort = (squatter.address() as { port: number }).port;
    try {
      const connectionsBefore = await connections(); // the test pool's own (it may only shrink meanwhile)
      const before = handles();
      const failed = await startApp(configWith({ 'http.port': httpPort, 'edge.sipPort': sipPort, 'drachtio.port': controlPort }), silent)
        .then(() => null, (e: unknown) => e as Error);
      expect(failed?.message).toMatch(/EADDRINUSE/);
      // it did get that far: the migrations ran
      expect((await db.pool.query<{ n: number }>(`select count(*)::int as n from schema_migrations`)).rows[0]!.n).toBeGreaterThan(0);
      await backTo(before);
      expect(await canBindUdp(sipPort)).toBe(true);
      expect(await canBindTcp(sipPort)).toBe(true);
      expect(await canBindTcp(controlPort)).toBe(true);
      expect(await eventually('the app\'s PostgreSQL connections closed', async () => (await connections()) <= connectionsBefore)).toBe(true);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });
});

describe('npm start (src/main.ts as a process) failing to start', () => {
  function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'main.ts')], {
        cwd: projectPath(), env: { ...process.env, LOG_LEVEL: 'info', DEMO_AUTO_SEED: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('exits 1 with a "start-up failed" log line naming the cause; a bad setting exits 2 naming the key', async () => {
    const deadPort = await freePort();
    const [down, bad] = await Promise.all([
      run({ DATABASE_URL: `postgres://postgres@127.0.0.1:${deadPort}/none`, HTTP_PORT: String(await freePort()), SIP_PORT: String(await freePort()), DRACHTIO_PORT: String(await freePort()) }),
      run({ DATABASE_URL: 'mysql://nope' }),
    ]);
    expect(down.code).toBe(1);
    const fatal = down.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; level: number; err?: { message: string } })
      .find((l) => l.msg === 'start-up failed');
    expect(fatal).toMatchObject({ level: 60 });
    expect(fatal!.err!.message).toMatch(new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${deadPort}`));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^softswitch: .*postgres\.url/m);
    expect(bad.stdout).toBe('');
  }, 120_000); // two processes compiling the sources under tsx: a hang guard on a loaded machine, not a timing check
});
