/**
 * deploy/ and the metric registry agree. Docker, Kubernetes, Prometheus and Grafana cannot run on this machine
 * (no container engine), so these tests parse the files instead of running them ("parse-only" in the names):
 * compose, Prometheus config/rules, the dashboard, k8s manifests, the systemd unit and drachtio.conf.xml.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ConfigError, SETTINGS, loadConfig, seedDemoOnStart } from '../../src/config/config.js';
import { registry } from '../../src/observability/metrics.js';
import { projectPath } from '../../src/util/paths.js';
import { familyOf, promqlMetricNames } from './helpers/exposition.js';

const deploy = (...p: string[]) => projectPath('deploy', ...p);
const read = (...p: string[]) => readFileSync(deploy(...p), 'utf8');
const yamlOf = (...p: string[]): any => parseYaml(read(...p));
const ENV_NAMES = new Set(SETTINGS.map((s) => s.env));
const DRAIN_DEFAULT = loadConfig({}).shutdown.drainSeconds;

/** drachtio-server's own metric families (drachtio-server docs/prometheus.md). */
const DRACHTIO_METRICS = new Set([
  'drachtio_sip_requests_in_total', 'drachtio_sip_requests_out_total', 'drachtio_sip_responses_in_total', 'drachtio_sip_responses_out_total',
  'drachtio_build_info', 'drachtio_time_started', 'drachtio_stable_dialogs', 'drachtio_proxy_cores', 'drachtio_registered_endpoints',
  'drachtio_app_connections', 'drachtio_call_answer_seconds_in', 'drachtio_call_answer_seconds_out', 'drachtio_call_pdd_seconds_in',
  'drachtio_call_pdd_seconds_out',
]);

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rulesOf = (file: string): Rule[] => (yamlOf('prometheus', file).groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
const alerts = rulesOf('alerts.yml');
const recordings = rulesOf('recording.yml');
const dashboard = JSON.parse(read('grafana', 'dashboards', 'softswitch.json'));
const dashboardExprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));

/** Minimal well-formedness check (no XML parser is installed): balanced, properly nested tags. */
function assertWellFormedXml(xml: string): string[] {
  const body = xml.replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  const seen: string[] = [];
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w-]*)([^<>]*?)(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    seen.push(name!);
    if (close) {
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}>`);
    } else if (!selfClose) stack.push(name!);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (/<[^>]*$/.test(body)) throw new Error('dangling <');
  return seen;
}

describe('metric references (parse-only)', () => {
  const families = new Set(registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name));
  const recorded = new Set(recordings.map((r) => r.record!));

  it.each([
    ['alert rules', alerts.map((r) => r.expr)],
    ['recording rules', recordings.map((r) => r.expr)],
    ['the Grafana dashboard', dashboardExprs],
  ])('every softswitch_ metric used by %s is defined in the registry, every softswitch: series is a recording rule', (_what, exprs) => {
    expect(exprs.length).toBeGreaterThan(5);
    const unknown: string[] = [];
    let count = 0;
    for (const e of exprs) {
      for (const n of promqlMetricNames(e, ['softswitch_', 'softswitch:', 'drachtio_', 'process_', 'nodejs_'])) {
        count++;
        const ok = n.startsWith('softswitch:') ? recorded.has(n) : n.startsWith('drachtio_') ? familyOf(n, DRACHTIO_METRICS) !== undefined : familyOf(n, families) !== undefined;
        if (!ok) unknown.push(n);
      }
    }
    expect(count).toBeGreaterThan(5);
    expect(unknown).toEqual([]);
  });

  it('the dashboard and the alerts between them use every product metric (nothing defined and never looked at)', () => {
    const used = new Set<string>();
    for (const e of [...dashboardExprs, ...alerts.map((r) => r.expr), ...recordings.map((r) => r.expr)]) {
      for (const n of promqlMetricNames(e, ['softswitch_'])) used.add(familyOf(n, families) ?? n);
    }
    const product = [...families].filter((f) => f.startsWith('softswitch_'));
    expect(product.filter((f) => !used.has(f))).toEqual([]);
  });

  it('the standard process_*/nodejs_* metrics are used under their stock names, for our job only (no softswitch_ prefix)', () => {
    const all = [...dashboardExprs, ...alerts.map((r) => r.expr), ...recordings.map((r) => r.expr)];
    const std = all.filter((e) => promqlMetricNames(e, ['process_', 'nodejs_']).length > 0);
    expect(std.length).toBeGreaterThanOrEqual(2);
    for (const e of std) expect(e, e).toContain('job="softswitch"');
    expect(all.filter((e) => /softswitch_(process|nodejs)_/.test(e))).toEqual([]);
  });

  it('the PromQL name extractor ignores label values, grouping labels and functions', () => {
    expect(promqlMetricNames('sum by (softswitch_x) (rate(softswitch_calls_total{result="softswitch_fake"}[5m])) / softswitch:asr:ratio_5m', ['softswitch_', 'softswitch:']).sort())
      .toEqual(['softswitch:asr:ratio_5m', 'softswitch_calls_total']);
  });
});

describe('Prometheus alert rules (parse-only)', () => {
  const ops = readFileSync(projectPath('docs', 'operations.md'), 'utf8');

  it('every alert has an expression, a severity, a summary, a one-line runbook and a runbook section in docs/operations.md', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(a.alert, JSON.stringify(a)).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(a.expr.trim().length, a.alert).toBeGreaterThan(5);
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.runbook, a.alert).toMatch(/^[^\n]{20,}$/);
      expect(ops, `${a.alert}: runbook section ${a.annotations?.runbook_section}`).toContain(`<a id="${a.annotations?.runbook_section}"></a>`);
    }
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });

  it('covers what the NOC watches: no answers while attempts arrive, ASR drop, gateway down, store errors, outbox, drift, authorization p99', () => {
    const byName = new Map(alerts.map((a) => [a.alert!, a.expr]));
    const expectAlert = (name: string, mustUse: RegExp) => expect(byName.get(name), name).toMatch(mustUse);
    expectAlert('SoftswitchNoCallsAnswered', /softswitch_invites_total[\s\S]*result="answered"/);
    expectAlert('SoftswitchAsrDrop', /softswitch:asr:ratio_5m/);
    expectAlert('SoftswitchGatewayDown', /softswitch_gateway_up == 0/);
    expectAlert('SoftswitchRedisErrors', /softswitch_store_errors_total\{store="redis"\}/);
    expectAlert('SoftswitchPostgresErrors', /softswitch_store_errors_total\{store="postgres"\}/);
    expectAlert('SoftswitchOutboxBacklogGrowing', /deriv\(softswitch_outbox_backlog/);
    expectAlert('SoftswitchLedgerDrift', /softswitch_reconcile_drift_fen != 0/);
    expectAlert('SoftswitchAuthorizeLatencyHigh', /softswitch:authorize_p99:5m/);
    // the authorization p99 recording rule really is the 0.99 quantile of the authorization histogram
    expect(recordings.find((r) => r.record === 'softswitch:authorize_p99:5m')!.expr).toMatch(/histogram_quantile\(0\.99,.*softswitch_authorize_duration_seconds_bucket/);
  });
});

describe('docker-compose.yml (parse-only: no Docker engine here)', () => {
  const compose = yamlOf('docker-compose.yml');
  const svc = compose.services as Record<string, any>;

  it('runs the real drachtio-server and FreeSWITCH-for-fsmrf images, Redis with AOF, PostgreSQL, the app, Prometheus and Grafana', () => {
    expect(Object.keys(svc).sort()).toEqual(['app', 'drachtio', 'freeswitch', 'grafana', 'postgres', 'prometheus', 'redis']);
    expect(svc.drachtio.image).toMatch(/^drachtio\/drachtio-server:/);
    expect(svc.freeswitch.image).toMatch(/^drachtio\/drachtio-freeswitch-mrf:/);
    expect(svc.redis.command.join(' ')).toContain('--appendonly yes');
    expect(svc.postgres.image).toMatch(/^postgres:/);
    expect(svc.prometheus.image).toMatch(/^prom\/prometheus:/);
    expect(svc.grafana.image).toMatch(/^grafana\/grafana:/);
    expect(existsSync(join(deploy('..'), svc.app.build.context === '..' ? '' : svc.app.build.context, svc.app.build.dockerfile))).toBe(true);
  });

  it('mounts only files that exist, including every Prometheus rule file and the Grafana provisioning', () => {
    const mounts = Object.values(svc).flatMap((s: any) => (s.volumes ?? []) as string[]).filter((v) => v.startsWith('./'));
    expect(mounts.length).toBeGreaterThanOrEqual(6);
    for (const m of mounts) expect(existsSync(deploy(m.split(':')[0]!)), m).toBe(true);
    const prom = yamlOf('prometheus', 'prometheus.yml');
    const mountedTargets = new Set(mounts.map((m) => m.split(':')[1]));
    for (const f of prom.rule_files as string[]) expect(mountedTargets, f).toContain(f);
  });

  it('gives the app only known settings (env names of src/config/config.ts) and points it at the external drachtio-server', () => {
    const env = svc.app.environment as Record<string, string>;
    expect(Object.keys(env).filter((k) => !ENV_NAMES.has(k))).toEqual([]);
    expect(env.DRACHTIO_HOST).toBeTruthy();
    expect(svc.app.stop_grace_period).toMatch(/^\d+s$/);
    expect(parseInt(svc.app.stop_grace_period, 10)).toBeGreaterThan(Number(env.DRAIN_SECONDS));
  });

  it('the Dockerfile runs what `npm start` runs', () => {
    const pkg = JSON.parse(readFileSync(projectPath('package.json'), 'utf8'));
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))![1]!;
    expect((JSON.parse(cmd) as string[]).join(' ')).toBe(pkg.scripts.start);
  });
});

describe('Prometheus and Grafana (parse-only)', () => {
  it('scrapes the app and drachtio-server on the ports they serve metrics on', () => {
    const jobs = Object.fromEntries((yamlOf('prometheus', 'prometheus.yml').scrape_configs as any[]).map((j) => [j.job_name, j]));
    const target = (job: string) => jobs[job].static_configs[0].targets[0] as string;
    expect(target('softswitch')).toMatch(new RegExp(`:${loadConfig({}).http.port}$`));
    const promPort = /<prometheus port="(\d+)"/.exec(read('drachtio', 'drachtio.conf.xml'))![1];
    expect(target('drachtio')).toMatch(new RegExp(`:${promPort}$`));
  });

  it('the dashboard is valid Grafana JSON on the provisioned datasource, covering the NOC panels', () => {
    const ds = yamlOf('grafana', 'provisioning', 'datasources', 'prometheus.yml').datasources[0];
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels.filter((x: any) => x.type !== 'row')) {
      expect(p.datasource.uid, p.title).toBe(ds.uid);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    const titles = dashboard.panels.map((p: any) => String(p.title).toLowerCase()).join(' | ');
    for (const t of ['calls per second', 'asr', 'active calls', 'rejections by reason', 'cut-off', 'authorization latency', 'gateway up', 'outbox backlog', 'drift']) {
      expect(titles).toContain(t);
    }
    const prov = yamlOf('grafana', 'provisioning', 'dashboards', 'softswitch.yml');
    const compose = yamlOf('docker-compose.yml');
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${prov.providers[0].options.path}:ro`);
  });
});

describe('Kubernetes manifests (parse-only)', () => {
  const docs = ['configmap.yaml', 'secret.yaml', 'deployment.yaml', 'service.yaml'].flatMap((f) =>
    parseAllDocuments(read('k8s', f)).map((d) => {
      expect(d.errors, f).toEqual([]);
      return d.toJS();
    }),
  );
  const byKind = (k: string) => docs.find((d) => d.kind === k);

  it('has a Deployment, Service, ConfigMap and Secret, all listed in the kustomization', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Service']);
    expect(yamlOf('k8s', 'kustomization.yaml').resources.sort()).toEqual(['configmap.yaml', 'deployment.yaml', 'secret.yaml', 'service.yaml']);
  });

  it('the app container has /readyz readiness, /healthz liveness and a preStop drain shorter than the grace period', () => {
    const pod = byKind('Deployment').spec.template.spec;
    const app = pod.containers.find((c: any) => c.name === 'app');
    expect(app.readinessProbe.httpGet.path).toBe('/readyz');
    expect(app.livenessProbe.httpGet.path).toBe('/healthz');
    expect(app.lifecycle.preStop.exec.command.join(' ')).toContain('kill -TERM 1');
    const drain = Number(byKind('ConfigMap').data.DRAIN_SECONDS);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drain);
    const drachtio = pod.containers.find((c: any) => c.name === 'drachtio');
    expect(drachtio.image).toMatch(/^drachtio\/drachtio-server:/);
    // drachtio outlives the app's drain (BYEs of cut calls), within the grace period
    const sleep = Number(/sleep (\d+)/.exec(drachtio.lifecycle.preStop.exec.command.join(' '))![1]);
    expect(sleep).toBeGreaterThan(drain);
    expect(sleep).toBeLessThan(pod.terminationGracePeriodSeconds);
  });

  it('ConfigMap and Secret carry only known settings; the Service selects the pods', () => {
    const cm = byKind('ConfigMap').data as Record<string, string>;
    const envKeys = Object.keys(cm).filter((k) => k !== 'drachtio.conf.xml');
    expect(envKeys.filter((k) => !ENV_NAMES.has(k))).toEqual([]);
    expect(Object.keys(byKind('Secret').stringData).filter((k) => !ENV_NAMES.has(k))).toEqual([]);
    expect(assertWellFormedXml(cm['drachtio.conf.xml']!)).toContain('admin');
    const labels = byKind('Deployment').spec.template.metadata.labels;
    for (const [k, v] of Object.entries(byKind('Service').spec.selector)) expect(labels[k]).toBe(v);
  });

  it('the placeholder secrets cannot start the app by accident (ConfigError)', () => {
    const s = byKind('Secret').stringData as Record<string, string>;
    expect(() => loadConfig({ API_OPERATOR_TOKEN: s.API_OPERATOR_TOKEN })).toThrow(ConfigError);
    expect(() => loadConfig({ DRACHTIO_SECRET: s.DRACHTIO_SECRET })).toThrow(ConfigError);
  });
});

describe('systemd unit and drachtio.conf.xml (parse-only)', () => {
  it('the unit runs the built app with a stop timeout above the drain time, and its env example has only known settings', () => {
    const unit = read('systemd', 'softswitch.service');
    for (const section of ['[Unit]', '[Service]', '[Install]']) expect(unit).toContain(section);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node (--[a-z-]+=\S+ )*dist\/src\/main\.js$/m);
    expect(unit).toMatch(/^EnvironmentFile=/m);
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)![1])).toBeGreaterThan(DRAIN_DEFAULT);
    const env = read('systemd', 'softswitch.env.example').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('=')[0]!);
    expect(env.length).toBeGreaterThan(5);
    expect(env.filter((k) => !ENV_NAMES.has(k))).toEqual([]);
  });

  it('drachtio.conf.xml is well-formed with the admin port the app connects to and a Prometheus endpoint', () => {
    const xml = read('drachtio', 'drachtio.conf.xml');
    const tags = assertWellFormedXml(xml);
    expect(tags[0]).toBe('drachtio');
    expect(tags).toEqual(expect.arrayContaining(['admin', 'sip', 'contacts', 'contact', 'monitoring', 'prometheus', 'logging']));
    expect(/<admin port="(\d+)"/.exec(xml)![1]).toBe(String(loadConfig({}).drachtio.port));
    expect(() => assertWellFormedXml('<a><b></a></b>')).toThrow();
  });
});

describe('the demo tenant is never seeded by a deploy file (parse-only)', () => {
  const compose = (f: string) => Object.values((parseYaml(read(f), { merge: true }) as { services: Record<string, any> }).services)
    .filter((s) => s.build?.dockerfile === 'deploy/Dockerfile').map((s) => s.environment as Record<string, string>);
  const configMap = (f: string) => parseAllDocuments(read(f)).map((d) => d.toJS()).find((d: any) => d?.kind === 'ConfigMap').data as Record<string, string>;
  const dotenv = (text: string, re: RegExp) => Object.fromEntries([...text.matchAll(re)].map((m) => [m[1]!, m[2]!]));
  const sources: [string, Record<string, string>][] = [
    ['Dockerfile', dotenv(read('Dockerfile'), /^ENV (\w+)=(\S+)$/gm)],
    ...compose('docker-compose.yml').map((e, i): [string, Record<string, string>] => [`docker-compose.yml app ${i}`, e]),
    ...compose(join('cluster', 'docker-compose.yml')).map((e, i): [string, Record<string, string>] => [`cluster/docker-compose.yml app ${i}`, e]),
    ['k8s/configmap.yaml', configMap(join('k8s', 'configmap.yaml'))],
    ['k8s-cluster/configmap.yaml', configMap(join('k8s-cluster', 'configmap.yaml'))],
    ['systemd/softswitch.env.example', dotenv(read('systemd', 'softswitch.env.example'), /^(\w+)=(.*)$/gm)],
  ];

  it.each(sources)('%s sets DEMO_AUTO_SEED=false explicitly (not left to the auto rule)', (_file, env) => {
    expect(String(env.DEMO_AUTO_SEED)).toBe('false');
  });

  it('the image and the systemd unit run in production mode, so even without DEMO_AUTO_SEED the auto rule seeds nothing', () => {
    const image = sources[0]![1];
    const unit = sources.at(-1)![1];
    expect([image.NODE_ENV, unit.NODE_ENV]).toEqual(['production', 'production']);
    expect(seedDemoOnStart(loadConfig({ NODE_ENV: 'production' }))).toBe(false);
  });
});
