import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, loadConfig, seedDemoOnStart } from '../../src/config/config.js';
import { projectPath } from '../../src/util/paths.js';

describe('config', () => {
  it('builds from config/default.json with no environment', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.drachtio.host).toBe('');
    expect(c.edge.transports).toEqual(['udp', 'tcp']);
    expect(c.charging.rounding).toBe('up');
  });

  it('environment overrides defaults, with types coerced', () => {
    const c = loadConfig({ HTTP_PORT: '9090', DEMO_AUTO_SEED: 'false', SIP_TRANSPORTS: 'udp', DRACHTIO_HOST: '10.1.2.3', DRACHTIO_SECRET: 'a-secret' });
    expect(c.http.port).toBe(9090);
    expect(c.demo.autoSeed).toBe(false);
    expect(c.edge.transports).toEqual(['udp']);
    expect(c.drachtio.host).toBe('10.1.2.3');
  });

  it.each([
    ['HTTP_PORT', '80a', /http\.port \(env HTTP_PORT\).*"80a".*integer from 0 to 65535/],
    ['HTTP_PORT', '70000', /integer from 0 to 65535/],
    ['CHARGE_ROUNDING', 'nearest', /charging\.rounding.*"nearest".*one of up, down, half-up/],
    ['DATABASE_URL', 'mysql://x', /postgres\.url.*a postgres:\/\/ URL/],
    ['SIP_TRANSPORTS', 'udp,sctp', /edge\.transports.*comma list of udp,tcp/],
    ['DEMO_AUTO_SEED', 'yes', /true, false, 1 or 0/],
  ])('rejects %s=%s naming key, value and what is allowed', (env, value, msg) => {
    expect(() => loadConfig({ [env]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [env]: value })).toThrow(msg);
  });

  it('rejects unknown override keys', () => {
    expect(() => loadConfig({}, { 'http.prot': 1 })).toThrow(/http\.prot/);
  });

  it('the README configuration table lists every setting', () => {
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    for (const s of SETTINGS) expect(readme, s.env).toContain(`\`${s.env}\``);
  });

  it('NOTIFY_WEBHOOK_ALLOW_CIDRS takes IPv4 and IPv6 CIDRs and refuses anything else', () => {
    expect(loadConfig({ NOTIFY_WEBHOOK_ALLOW_CIDRS: '10.20.0.0/16, fd00::/8,192.168.1.5' }).notify.webhookAllowCidrs).toEqual(['10.20.0.0/16', 'fd00::/8', '192.168.1.5']);
    expect(loadConfig({}).notify.webhookAllowCidrs).toEqual([]);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '300.1.1.1/8', 'intranet', '10.0.0.0/x']) {
      expect(() => loadConfig({ NOTIFY_WEBHOOK_ALLOW_CIDRS: bad }), bad).toThrow(/notify\.webhookAllowCidrs/);
    }
  });

  describe('DEMO_AUTO_SEED: the demo tenant only on a local development database', () => {
    const LOCAL = 'postgres://postgres@127.0.0.1:5432/softswitch';
    it('auto (the default) seeds with the embedded local database URL outside production, as `npm start` on a fresh machine', () => {
      expect(seedDemoOnStart(loadConfig({}))).toBe(true);
      expect(seedDemoOnStart(loadConfig({ DATABASE_URL: LOCAL, DEMO_AUTO_SEED: 'auto' }))).toBe(true);
      expect(seedDemoOnStart(loadConfig({ NODE_ENV: 'development' }))).toBe(true);
    });

    it('auto seeds nothing in production mode or on any other database', () => {
      expect(seedDemoOnStart(loadConfig({ NODE_ENV: 'production' }))).toBe(false);
      expect(seedDemoOnStart(loadConfig({ DATABASE_URL: 'postgres://softswitch:pw@db.internal:5432/softswitch' }))).toBe(false);
      expect(seedDemoOnStart(loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/billing' }))).toBe(false);
    });

    it('true and false are what they say, whatever the database and mode', () => {
      expect(seedDemoOnStart(loadConfig({ NODE_ENV: 'production', DEMO_AUTO_SEED: 'true' }))).toBe(true);
      expect(seedDemoOnStart(loadConfig({ DEMO_AUTO_SEED: 'false' }))).toBe(false);
      expect(() => loadConfig({ DEMO_AUTO_SEED: 'maybe' })).toThrow(/demo\.autoSeed.*auto, true, false, 1 or 0/);
    });

    it('the Docker image (its ENV lines alone, as `docker run` starts it) seeds nothing', () => {
      const env = Object.fromEntries([...readFileSync(projectPath('deploy', 'Dockerfile'), 'utf8').matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(env.NODE_ENV).toBe('production');
      expect(env.DEMO_AUTO_SEED).toBe('false');
      expect(seedDemoOnStart(loadConfig(env))).toBe(false);
      // and the image with only a database URL given, still without DEMO_AUTO_SEED from the image: production mode
      expect(seedDemoOnStart(loadConfig({ NODE_ENV: env.NODE_ENV, DATABASE_URL: LOCAL }))).toBe(false);
    });
  });
});
