/**
 * Private Redis topologies for the cluster tests (never the shared Redis): a Redis Cluster of 3 masters + 3 replicas
 * (`redis-server --cluster-enabled yes` on spare ports, `redis-cli --cluster create`), and a Sentinel setup (a master,
 * a replica, 3 Sentinels in `redis-server --sentinel` mode). Each node has its own temp dir; nodes can be killed with
 * SIGKILL as a crash. redis-server (Debian package redis-server, which also ships redis-cli and Sentinel mode) is
 * installed by scripts/services.sh.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface OwnNode {
  port: number;
  address: string; // 127.0.0.1:port
  dir: string;
  running(): boolean;
  /** SIGKILL, as a crash; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Start a killed node again on its own data (a cluster node rejoins as what the cluster now says it is, e.g. the
   * replica of the master promoted in its place); resolves when it answers PING. */
  restart(): Promise<void>;
}

interface NodeHandle extends OwnNode {
  proc: ChildProcess;
}

async function answers(port: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > end) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
}

function startNode(port: number, dir: string, args: string[]): NodeHandle {
  const spawnIt = () => spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
  const h: NodeHandle = {
    port,
    address: `127.0.0.1:${port}`,
    dir,
    proc: spawnIt(),
    running: () => h.proc.exitCode === null && h.proc.signalCode === null,
    async kill() {
      if (!h.running()) return;
      const p = h.proc;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
    async restart() {
      if (h.running()) return;
      h.proc = spawnIt();
      await answers(port);
    },
  };
  return h;
}

/** Ask one node (plain connection, no prefix). */
export async function ask<T>(port: number, ...args: (string | number)[]): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.call(String(args[0]), ...args.slice(1).map(String))) as T;
  } finally {
    r.disconnect();
  }
}

export async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      if (await cond()) return Date.now() - start;
    } catch {
      // a node that is down or still electing: ask again
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface OwnCluster {
  nodes: OwnNode[];
  /** host:port of every node, for REDIS_CLUSTER_NODES */
  startupNodes: string[];
  /** The node that serves `slot` now, as the cluster itself says (asked of a live node). */
  masterOf(slot: number): Promise<OwnNode>;
  /** Wait until `slot` is served by a master other than `previous` and the cluster is ok; resolves with the ms waited. */
  waitPromoted(slot: number, previous: OwnNode, timeoutMs?: number): Promise<number>;
  destroy(): Promise<void>;
}

interface SlotRange { from: number; to: number; master: string }

async function slotRanges(port: number): Promise<SlotRange[]> {
  const slots = await ask<[number, number, [string, number, string]][]>(port, 'CLUSTER', 'SLOTS');
  return slots.map(([from, to, [host, p]]) => ({ from, to, master: `${host}:${p}` }));
}

/**
 * A Redis Cluster of `masters` masters with one replica each, on spare loopback ports (each node's bus port taken
 * with cluster-port, as port+10000 is not reserved). Nodes run with `cluster-require-full-coverage no` (the other
 * masters keep serving while one is replaced, as docs/scaling.md recommends) and a short node timeout so a failover
 * takes seconds.
 */
export async function startOwnCluster(opts: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<OwnCluster> {
  const masters = opts.masters ?? 3;
  const nodeTimeout = opts.nodeTimeoutMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'softswitch-cluster-'));
  const nodes: NodeHandle[] = [];
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePort();
      const bus = await freePort();
      const d = join(dir, String(port));
      mkdirSync(d);
      nodes.push(startNode(port, d, [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(bus),
        '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeout), '--cluster-require-full-coverage', 'no',
        '--dir', d, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'no',
      ]));
    }
    await Promise.all(nodes.map((n) => answers(n.port)));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
    // every node agrees the cluster is ok and knows every other node
    await until('cluster state ok on every node', async () => {
      for (const n of nodes) {
        const info = await ask<string>(n.port, 'CLUSTER', 'INFO');
        if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
      }
      return true;
    }, 60_000);
    // and every replica has finished its initial sync: until then WAIT times out (the steps count as unreplicated)
    // and a killed master would have no replica able to take over
    await until('every replica in sync with its master', async () => {
      let online = 0;
      for (const n of nodes) {
        const info = await ask<string>(n.port, 'INFO', 'replication');
        if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
        if (info.includes('role:master')) online += (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
      }
      return online === masters;
    }, 60_000);
  } catch (e) {
    for (const n of nodes) await n.kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const byAddress = new Map(nodes.map((n) => [n.address, n]));
  const live = () => nodes.find((n) => n.running())!;
  const cluster: OwnCluster = {
    nodes,
    startupNodes: nodes.map((n) => n.address),
    async masterOf(slot) {
      const r = (await slotRanges(live().port)).find((x) => x.from <= slot && slot <= x.to);
      if (!r) throw new Error(`slot ${slot} is not served`);
      return byAddress.get(r.master)!;
    },
    async waitPromoted(slot, previous, timeoutMs = 30_000) {
      return until(`slot ${slot} served by a promoted replica`, async () => {
        const n = live();
        const info = await ask<string>(n.port, 'CLUSTER', 'INFO');
        if (!info.includes('cluster_state:ok')) return false;
        const m = await cluster.masterOf(slot);
        return m !== previous && m.running();
      }, timeoutMs);
    },
    async destroy() {
      for (const n of nodes) await n.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

export interface OwnSentinel {
  master: OwnNode;
  replica: OwnNode;
  sentinels: OwnNode[];
  /** host:port of the Sentinels, for REDIS_SENTINELS */
  addresses: string[];
  name: string;
  /** The master the Sentinels name now. */
  currentMaster(): Promise<string>;
  destroy(): Promise<void>;
}

/**
 * One master, one replica and 3 Sentinels (quorum 2) watching them, with short detection (`down-after-milliseconds`)
 * so a failover takes seconds.
 */
export async function startOwnSentinel(opts: { name?: string; downAfterMs?: number } = {}): Promise<OwnSentinel> {
  const name = opts.name ?? 'softswitch';
  const downAfter = opts.downAfterMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), 'softswitch-sentinel-'));
  const all: NodeHandle[] = [];
  try {
    const data = async (role: string, extra: string[]): Promise<NodeHandle> => {
      const port = await freePort();
      const d = join(dir, `${role}-${port}`);
      mkdirSync(d);
      const n = startNode(port, d, ['--port', String(port), '--bind', '127.0.0.1', '--dir', d, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'no', ...extra]);
      all.push(n);
      await answers(port);
      return n;
    };
    const master = await data('master', []);
    const replica = await data('replica', ['--replicaof', '127.0.0.1', String(master.port)]);
    // initial sync done (until then WAIT times out and the replica could not take over)
    await until('replica in sync', async () => /^slave0:.*state=online/m.test(await ask<string>(master.port, 'INFO', 'replication'))
      && (await ask<string>(replica.port, 'INFO', 'replication')).includes('master_link_status:up'));
    const sentinels: NodeHandle[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const d = join(dir, `sentinel-${port}`);
      mkdirSync(d);
      const conf = join(d, 'sentinel.conf');
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${d}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfter}`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'));
      const n = startNode(port, d, [conf, '--sentinel']);
      all.push(n);
      sentinels.push(n);
      await answers(port);
    }
    // every Sentinel knows the replica and the other Sentinels before anything is killed
    await until('sentinels discovered each other and the replica', async () => {
      for (const s of sentinels) {
        const m = await ask<string[]>(s.port, 'SENTINEL', 'MASTER', name);
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < m.length; i += 2) f.set(m[i]!, m[i + 1]!);
        if (f.get('num-slaves') !== '1' || f.get('num-other-sentinels') !== '2') return false;
      }
      return true;
    }, 60_000);
    const sentinel: OwnSentinel = {
      master,
      replica,
      sentinels,
      addresses: sentinels.map((s) => s.address),
      name,
      async currentMaster() {
        const s = sentinels.find((x) => x.running())!;
        const [host, port] = await ask<[string, string]>(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name);
        return `${host}:${port}`;
      },
      async destroy() {
        for (const n of all) await n.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return sentinel;
  } catch (e) {
    for (const n of all) await n.kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
