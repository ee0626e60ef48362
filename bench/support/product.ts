/**
 * The system under test of the SIP benchmarks, each in its own process: the product started as `npm start` /
 * `npm run dev` starts it (src/main.ts, configured only by environment variables, config defaults otherwise)
 * against a bench database and Redis key prefix, or the bare B2BUA baseline (bare-b2bua.ts); and the demo-like
 * tenant with plenty of balance that the calls are billed to.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChargingRedis } from '../../src/charging/redis.js';
import type { Pool } from '../../src/db/pool.js';
import { projectPath } from '../../src/util/paths.js';
import { freePort } from '../../test/helpers/ports.js';
import { TEST_REDIS_URL } from '../../test/helpers/redis.js';
import { seedTenant } from '../../test/helpers/tenants.js';

export const CALLER = '+8657188880000'; // the demo tenant's number (src/demo/seed.ts)
/** sipp options of the benches' sipps: a failing soak writes gigabytes of error text, which the runner reads back at
 * exit; keep the first 20 MB (the stats are what the benches print, the error text is a sample of what went wrong) */
export const SIPP_LOG_CAP = ['-max_log_size', '20000000', '-error_overwrite', 'false'];
export const CALLED = '13800138000';

/** Trunk (sipp caller on loopback), carrier gateway (sipp on carrierPort) and the tenant, limits out of the way. */
export async function seedBench(pool: Pool, redis: ChargingRedis, carrierPort: number, transport: 'udp' | 'tcp'): Promise<string> {
  await pool.query(`insert into ingress_trunks (name, address) values ('ccc-bench', '127.0.0.1')`);
  await pool.query(`insert into carrier_gateways (name, host, port, transport) values ('carrier-bench', '127.0.0.1', $1, $2)`, [carrierPort, transport]);
  return seedTenant(pool, redis, { code: 'demo', number: CALLER, balanceFen: 10n ** 13n, pricePerMinute: '0.06', maxConcurrent: 1_000_000, maxCps: 100_000 });
}

export interface Sut {
  pid: number;
  sipPort: number;
  /** base URL of the product's HTTP server (metrics), null for the bare B2BUA */
  http: string | null;
  stop(): Promise<void>;
}

function exitOf(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exitOf(proc);
  clearTimeout(t);
}

export interface ProductOptions {
  dbUrl: string;
  prefix: string;
  transport: 'udp' | 'tcp';
  /** external drachtio-server (control port, secret); absent = the embedded edge */
  drachtio?: { controlPort: number; secret: string; sipPort: number };
  /** run dist/src/main.js as `npm start` does (the caller builds first); default src/main.ts under tsx as `npm run dev` */
  built?: boolean;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/**
 * The product in a child process. Only what the bench needs is set: its stores, ports, no OPTIONS pings to the sipp
 * carrier (sipp would take them for calls) and no demo seed (the bench seeds its own tenant); everything else is the
 * configured default (log level, pool size, workers, batch size...). Its log goes to a temp file, printed on failure.
 */
export async function startProduct(o: ProductOptions): Promise<Sut> {
  const httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-product-'));
  const logFile = join(dir, 'product.log');
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    DATABASE_URL: o.dbUrl, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: o.prefix, DEMO_AUTO_SEED: 'false', SIP_OPTIONS_PING_SECONDS: '0',
    HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort), ...o.env,
  };
  delete env.NODE_OPTIONS; // the bench's own (tsx, semi-space) are not the product's
  let sipPort: number;
  if (o.drachtio) {
    Object.assign(env, { DRACHTIO_SERVERS: `127.0.0.1:${o.drachtio.controlPort}`, DRACHTIO_SECRET: o.drachtio.secret });
    sipPort = o.drachtio.sipPort;
  } else {
    sipPort = await freePort();
    Object.assign(env, { SIP_HOST: '127.0.0.1', SIP_PORT: String(sipPort), SIP_TRANSPORTS: o.transport, DRACHTIO_PORT: String(await freePort()) });
  }
  // npm start: node --max-semi-space-size=64 dist/src/main.js; npm run dev: the same flag, src/main.ts under tsx
  const args = o.built
    ? ['--max-semi-space-size=64', ...(o.nodeArgs ?? []), projectPath('dist', 'src', 'main.js')]
    : ['--max-semi-space-size=64', ...(o.nodeArgs ?? []), '--import', 'tsx', projectPath('src', 'main.ts')];
  const log = createWriteStream(logFile);
  const proc = spawn(process.execPath, args, { cwd: projectPath(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const http = `http://127.0.0.1:${httpPort}`;
  const end = Date.now() + 90_000;
  for (;;) {
    if ((await fetch(`${http}/readyz`).catch(() => null))?.status === 200) break;
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > end) {
      await stopProc(proc);
      throw new Error(`the product did not become ready: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: proc.pid!, sipPort, http,
    async stop() {
      await stopProc(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The bare B2BUA baseline (bare-b2bua.ts) in a child process, on the embedded edge or behind a drachtio-server. */
export async function startBare(o: { transport: 'udp' | 'tcp'; uasPort: number; drachtio?: { controlPort: number; secret: string; sipPort: number } }): Promise<Sut> {
  const server = o.drachtio ? `127.0.0.1:${o.drachtio.controlPort}` : 'embedded';
  const proc = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', projectPath('bench', 'support', 'bare-b2bua.ts'),
    '--server', server, '--transport', o.transport, '--uas-port', String(o.uasPort), ...(o.drachtio ? ['--secret', o.drachtio.secret] : [])], {
    cwd: projectPath(), env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    proc.once('exit', (c) => reject(new Error(`bare B2BUA exited (${c})`)));
  });
  const { sipPort } = JSON.parse(line) as { sipPort: number };
  return { pid: proc.pid!, sipPort: o.drachtio ? o.drachtio.sipPort : sipPort, http: null, stop: () => stopProc(proc) };
}
