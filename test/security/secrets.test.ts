/**
 * Secrets: the embedded edge and the app share a random per-process secret (the configured one,
 * let alone the public `cymru`, opens nothing); toward an external drachtio-server `cymru` is refused at start-up
 * unless DRACHTIO_ALLOW_DEFAULT_SECRET; secrets never appear in errors or log lines, config dumps included.
 */
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configForLog, loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/util/logger.js';
import { sameSecret } from '../../src/util/secrets.js';
import { startApp, type RunningApp } from '../../src/app.js';
import { encodeFrame, FrameDecoder } from '../../src/edge/wire/framing.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';
import { deleteKeys, TEST_REDIS_URL, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/ports.js';

/** A pino destination that keeps every line. */
function memory(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  return { stream, text: () => chunks.join('') };
}

/** The control port's answer to `authenticate` with this secret. */
async function authenticate(port: number, secret: string): Promise<string> {
  const s = connect({ host: '127.0.0.1', port });
  const dec = new FrameDecoder();
  return new Promise((resolve, reject) => {
    s.on('data', (c) => { const f = dec.push(c)[0]; if (f) { resolve(f.split('|').slice(3).join('|')); s.destroy(); } });
    s.on('error', reject);
    s.on('connect', () => s.write(encodeFrame(`m1|authenticate|${secret}|`)));
  });
}

describe('the drachtio secret in the config', () => {
  it('toward an external drachtio-server the public default is refused unless DRACHTIO_ALLOW_DEFAULT_SECRET', () => {
    for (const env of [{ DRACHTIO_HOST: '10.0.0.5' }, { DRACHTIO_SERVERS: '10.0.0.5:9022,10.0.0.6:9022' }]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/DRACHTIO_ALLOW_DEFAULT_SECRET/);
      expect(loadConfig({ ...env, DRACHTIO_ALLOW_DEFAULT_SECRET: 'true' }).drachtio.secret).toBe('cymru');
      expect(loadConfig({ ...env, DRACHTIO_SECRET: 'a-secret-of-our-own' }).drachtio.secret).toBe('a-secret-of-our-own');
    }
    expect(loadConfig({}).drachtio.host).toBe(''); // embedded: the configured secret is not used at all
  });

  it('a refused secret or token is never echoed in the error', () => {
    const bad = 'my secret with spaces';
    const e1 = (() => { try { loadConfig({ DRACHTIO_SECRET: bad }); } catch (e) { return e as ConfigError; } throw new Error('accepted'); })();
    expect(e1.message).toContain('drachtio.secret');
    expect(e1.message).not.toContain('spaces');
    expect(JSON.stringify(e1.value)).not.toContain('spaces');
    const e2 = (() => { try { loadConfig({ API_OPERATOR_TOKEN: 'short!tok' }); } catch (e) { return e as ConfigError; } throw new Error('accepted'); })();
    expect(e2.message).not.toContain('short!tok');
  });

  it('sameSecret: equal only for the same string, whatever the lengths', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    for (const other of ['abd', 'ab', 'abcd', '', 'ABC']) expect(sameSecret(other, 'abc')).toBe(false);
  });
});

describe('logs', () => {
  it('pino censors secrets wherever they sit, and configForLog hides secrets and URL passwords', () => {
    const out = memory();
    const log = createLogger('trace', 'test', out.stream);
    const config = loadConfig({ DRACHTIO_SECRET: 'drachtio-SECRET-1', API_OPERATOR_TOKEN: 'operator-TOKEN-0123456789abcdef', DATABASE_URL: 'postgres://u:pg-PASSWORD-2@db/x' });
    log.info({ config }, 'raw config object');
    log.info({ config: configForLog(config) }, 'config dump');
    log.info({ secret: 'top-SECRET-3', conn: { password: 'nested-PASSWORD-4' }, req: { headers: { authorization: 'Bearer hdr-TOKEN-5' } } }, 'objects');
    log.child({ a: { b: { token: 'deep-TOKEN-6' } } }).warn('child');
    const text = out.text();
    for (const s of ['drachtio-SECRET-1', 'operator-TOKEN-0123456789abcdef', 'pg-PASSWORD-2', 'top-SECRET-3', 'nested-PASSWORD-4', 'hdr-TOKEN-5', 'deep-TOKEN-6']) {
      expect(text, s).not.toContain(s);
    }
    expect(text).toContain('[redacted]');
    expect(configForLog(config)).toMatchObject({ postgres: { url: 'postgres://u:[redacted]@db/x' }, drachtio: { secret: '[redacted]' }, api: { operatorToken: '[redacted]' } });
  });
});

describe('the composition root in embedded mode (startApp, logging at trace)', () => {
  let db: TestDb;
  let app: RunningApp | null = null;
  const prefix = testPrefix();
  const out = memory();
  const CONFIGURED = 'configured-SECRET-not-used';
  const TOKEN = 'operator-TOKEN-abcdefghijklmnop0123';
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    const config = loadConfig({}, {
      'postgres.url': db.url.replace('postgres://postgres@', 'postgres://postgres:pg-PASSWORD-x@'), 'redis.url': TEST_REDIS_URL,
      'redis.keyPrefix': prefix, 'http.port': 0, 'edge.sipPort': await freePort(), 'drachtio.port': await freePort(),
      'drachtio.secret': CONFIGURED, 'api.operatorToken': TOKEN, 'demo.autoSeed': true, 'sip.optionsPingSeconds': 0, 'shutdown.drainSeconds': 0,
    });
    app = await startApp(config, createLogger('trace', 'softswitch', out.stream));
  });
  afterAll(async () => {
    await app?.shutdown('test end');
    await deleteKeys(TEST_REDIS_URL, prefix);
    await db?.drop();
  });

  it('the edge takes only the random per-process secret: neither the configured one nor `cymru` authenticates', async () => {
    expect(await authenticate(app!.controlPort!, CONFIGURED)).toBe('NO|incorrect secret');
    expect(await authenticate(app!.controlPort!, 'cymru')).toBe('NO|incorrect secret');
    const ready = await fetch(`http://127.0.0.1:${app!.httpPort}/readyz`).then((r) => r.json()) as { components: { drachtio: boolean } };
    expect(ready.components.drachtio).toBe(true); // the app itself got in
  });

  it('no log line holds a secret (start-up, config dump, an operator request), even at trace level', async () => {
    const r = await fetch(`http://127.0.0.1:${app!.httpPort}/v1/tenants`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    const text = out.text();
    expect(text).toContain('"msg":"configuration"');
    expect(text.split('\n').length).toBeGreaterThan(10);
    for (const s of [CONFIGURED, TOKEN, 'pg-PASSWORD-x']) expect(text, s).not.toContain(s);
  });
});
