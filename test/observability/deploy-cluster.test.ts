/**
 * The clustered topology of deploy/ (docs/scaling.md) agrees with itself and with the app's settings:
 * deploy/cluster/docker-compose.yml (two drachtio-servers, two apps, Redis Sentinel, PgBouncer) and deploy/k8s-cluster
 * (drachtio StatefulSet, app Deployment, Redis Cluster, PgBouncer). No container engine runs here, so the files are
 * parsed ("parse-only"): every app gets only known settings that load without a ConfigError once the secrets are
 * filled in, lists exactly the drachtio-servers and Redis nodes the files run, and reaches PostgreSQL through
 * PgBouncer in transaction pooling; Prometheus scrapes every instance and server.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigError, SETTINGS, loadConfig } from '../../src/config/config.js';
import { projectPath } from '../../src/util/paths.js';

const deploy = (...p: string[]) => projectPath('deploy', ...p);
const read = (...p: string[]) => readFileSync(deploy(...p), 'utf8');
const ENV_NAMES = new Set(SETTINGS.map((s) => s.env));
/** Values for the ${VAR} references of a compose file and the Secrets' placeholders: what an operator sets. */
const SECRETS: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-pass-0123456789', REDIS_PASSWORD: 'redis-pass-0123456789', DRACHTIO_SECRET: 'drachtio-secret-0123456789',
  API_OPERATOR_TOKEN: 'operator-token-0123456789abcdef0123', GRAFANA_ADMIN_PASSWORD: 'x', PUBLIC_IP: '203.0.113.10',
};
const substitute = (v: string) => v.replace(/\$\{([A-Z_]+)(:\?[^}]*)?\}/g, (_m, name: string) => SECRETS[name] ?? `<unset ${name}>`);
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1]!;

describe('deploy/cluster/docker-compose.yml (parse-only: no Docker engine here)', () => {
  const svc = (parseYaml(read('cluster', 'docker-compose.yml'), { merge: true }) as { services: Record<string, any> }).services;
  const of = (image: RegExp) => Object.entries(svc).filter(([, s]) => image.test(String(s.image)));
  const apps = Object.entries(svc).filter(([, s]) => s.build?.dockerfile === 'deploy/Dockerfile');
  const drachtios = of(/^drachtio\/drachtio-server:/);
  const appEnv = (s: any): Record<string, string> => Object.fromEntries(Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, substitute(String(v))]));

  it('runs two drachtio-servers, two app instances of the same image, three Redis data nodes, three Sentinels, PgBouncer and PostgreSQL', () => {
    expect(drachtios).toHaveLength(2);
    expect(apps).toHaveLength(2);
    expect(new Set(apps.map(([, s]) => s.image)).size).toBe(1);
    const redis = Object.entries(svc).filter(([n]) => /^redis-\d$/.test(n));
    expect(redis).toHaveLength(3);
    for (const [, r] of redis) expect(r.command.join(' ')).toMatch(/--appendonly yes --appendfsync everysec/);
    expect(redis.filter(([, r]) => r.command.includes('--replicaof'))).toHaveLength(2);
    expect(Object.keys(svc).filter((n) => /^sentinel-\d$/.test(n))).toHaveLength(3);
    expect(svc.pgbouncer.environment.POOL_MODE).toBe('transaction');
    expect(svc.postgres.image).toMatch(/^postgres:/);
  });

  it('each app gets only known settings, loads without a ConfigError, and uses every drachtio-server, the Sentinels and PgBouncer', () => {
    const adminPorts = drachtios.map(([, d]) => `127.0.0.1:${argAfter(d.command, '--port')}`).sort();
    const sentinelPorts = Object.entries(svc).filter(([n]) => /^sentinel-\d$/.test(n)).map(([, s]) => `127.0.0.1:${s.environment.SENTINEL_PORT}`).sort();
    const httpPorts = new Set<string>();
    for (const [name, app] of apps) {
      const env = appEnv(app);
      expect(Object.keys(env).filter((k) => !ENV_NAMES.has(k)), name).toEqual([]);
      const config = loadConfig(env); // throws a ConfigError on any bad or conflicting value
      expect([...config.drachtio.servers].sort(), name).toEqual(adminPorts);
      expect(config.redis.mode).toBe('sentinel');
      expect([...config.redis.sentinels].sort()).toEqual(sentinelPorts);
      expect(new URL(config.postgres.url).port).toBe(svc.pgbouncer.environment.LISTEN_PORT);
      httpPorts.add(String(config.http.port));
      expect(parseInt(app.stop_grace_period, 10), name).toBeGreaterThan(config.shutdown.drainSeconds);
    }
    expect(httpPorts.size).toBe(apps.length); // host network: one HTTP port per instance
  });

  it('Prometheus scrapes every app instance and every drachtio-server; mounted files exist', () => {
    const prom = parseYaml(read('cluster', 'prometheus.yml')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]; rule_files: string[] };
    const targets = (job: string) => prom.scrape_configs.find((j) => j.job_name === job)!.static_configs.flatMap((c) => c.targets).sort();
    expect(targets('softswitch')).toEqual(apps.map(([, a]) => `127.0.0.1:${a.environment.HTTP_PORT}`).sort());
    expect(targets('drachtio')).toEqual(drachtios.map(([, d]) => argAfter(d.command, '--prometheus-scrape-port')).sort());
    const mounts = Object.values(svc).flatMap((s: any) => (s.volumes ?? []) as string[]).filter((v) => v.startsWith('.'));
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const m of mounts) expect(existsSync(deploy('cluster', m.split(':')[0]!)), m).toBe(true);
    const mounted = new Set(mounts.map((m) => m.split(':')[1]));
    for (const f of prom.rule_files) expect(mounted, f).toContain(f);
  });
});

describe('deploy/k8s-cluster (parse-only)', () => {
  const files = (parseYaml(read('k8s-cluster', 'kustomization.yaml')) as { resources: string[] }).resources;
  const docs = files.flatMap((f) => parseAllDocuments(read('k8s-cluster', f)).map((d) => {
    expect(d.errors, f).toEqual([]);
    return d.toJS() as any;
  }));
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const cm = find('ConfigMap', 'softswitch-config').data as Record<string, string>;
  const secret = find('Secret', 'softswitch-secrets').stringData as Record<string, string>;
  const app = find('Deployment', 'softswitch');
  const drachtio = find('StatefulSet', 'drachtio');
  const redis = find('StatefulSet', 'redis');
  const filled = { ...secret, DRACHTIO_SECRET: SECRETS.DRACHTIO_SECRET!, REDIS_PASSWORD: SECRETS.REDIS_PASSWORD!, API_OPERATOR_TOKEN: SECRETS.API_OPERATOR_TOKEN! };
  const appEnv = Object.fromEntries(Object.entries({ ...cm, ...filled }).filter(([k]) => ENV_NAMES.has(k)));

  it('lists every manifest in the kustomization and has the pieces of the topology', () => {
    for (const f of files) expect(existsSync(deploy('k8s-cluster', f)), f).toBe(true);
    expect(app.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(drachtio.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(drachtio.spec.template.spec.hostNetwork).toBe(true);
    expect(app.spec.template.spec.hostNetwork).toBeUndefined(); // SIP stays on the drachtio-servers
    expect(redis.spec.replicas).toBe(6);
    expect(find('Deployment', 'pgbouncer').spec.template.spec.containers[0].env.find((e: any) => e.name === 'POOL_MODE').value).toBe('transaction');
    expect(find('PodDisruptionBudget', 'softswitch')).toBeTruthy();
  });

  it('the app settings are known and load; the placeholder secrets are refused (ConfigError)', () => {
    expect(Object.keys(cm).filter((k) => !ENV_NAMES.has(k)).sort()).toEqual(['drachtio.conf.xml', 'redis.conf']);
    expect(Object.keys(secret).filter((k) => !ENV_NAMES.has(k))).toEqual([]);
    expect(() => loadConfig(appEnv)).not.toThrow();
    for (const k of ['DRACHTIO_SECRET', 'REDIS_PASSWORD', 'API_OPERATOR_TOKEN']) expect(() => loadConfig({ ...appEnv, [k]: secret[k] }), k).toThrow(ConfigError);
  });

  it('the app names every drachtio-server and Redis node the manifests run, and reaches PostgreSQL through PgBouncer', () => {
    const config = loadConfig(appEnv);
    const adminPort = /<admin port="(\d+)"/.exec(cm['drachtio.conf.xml']!)![1];
    const serverNames = Array.from({ length: drachtio.spec.replicas }, (_v, i) => `drachtio-${i}.${drachtio.spec.serviceName}:${adminPort}`);
    expect(config.drachtio.servers).toEqual(serverNames);
    expect(find('Service', drachtio.spec.serviceName).spec.clusterIP).toBe('None');
    expect(config.redis.mode).toBe('cluster');
    for (const n of config.redis.clusterNodes) {
      const [, i, svcName, port] = /^redis-(\d+)\.([a-z-]+):(\d+)$/.exec(n)!;
      expect(Number(i)).toBeLessThan(redis.spec.replicas);
      expect(svcName).toBe(redis.spec.serviceName);
      expect(cm['redis.conf']).toContain(`port ${port}`);
    }
    for (const line of ['cluster-enabled yes', 'appendonly yes', 'appendfsync everysec', 'cluster-require-full-coverage no']) expect(cm['redis.conf']).toContain(line);
    expect(find('Job', 'redis-cluster-create').spec.template.spec.containers[0].args.join(' ')).toMatch(/--cluster create .*--cluster-replicas 1/);
    const db = new URL(config.postgres.url);
    const bouncer = find('Service', 'pgbouncer');
    expect(db.hostname).toBe(bouncer.metadata.name);
    expect(Number(db.port)).toBe(bouncer.spec.ports[0].port);
  });

  it('the app has /readyz readiness, /healthz liveness and a preStop drain within the grace period', () => {
    const pod = app.spec.template.spec;
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.lifecycle.preStop.exec.command.join(' ')).toContain('kill -TERM 1');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(cm.DRAIN_SECONDS));
  });
});
