/**
 * Loopback ports for tests that must name a port before a server binds it (sipp UAS, redis-server, PostgreSQL,
 * config files). Where a server can bind port 0 and report its port, let it do that instead.
 *
 * Test files run in parallel, and several checkouts of this repository may run their suites at the same time on one
 * machine, so "bind port 0, close, return the number" is not enough: two processes could get the same number, and
 * the kernel hands out that same number again to any outgoing connection. Here a port is:
 *  - taken only outside the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so no outgoing
 *    connection or port-0 bind can be given it, and above the default FreeSWITCH RTP ports (20000-20999);
 *  - owned through a lock file `<tmpdir>/softswitch-test-ports/<port>`, created atomically (link(2) of a file that
 *    already holds our pid, so a lock is never seen empty); a lock whose process is gone (pid dead, or reused by a
 *    process with another start time) is reclaimed under a per-port `.reclaim` mutex, so two processes can never
 *    both reclaim it; a process that exits normally removes its locks (a killed one's, e.g. a test runner's worker,
 *    are reclaimed by the next process that picks the port);
 *  - checked free on TCP and UDP before it is returned (something outside the tests may hold it).
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'softswitch-test-ports');
/** Lowest port handed out: above the well-known service ports and FreeSWITCH's default RTP range. */
const POOL_FLOOR = 21_000;
const POOL_CEILING = 65_535;

const owned = new Set<number>();
let me: { content: string; tmp: string } | null = null;

/** [low, high] ranges of allowed ports: the pool minus the kernel's ephemeral range. */
export function portPool(ephemeral = readEphemeralRange()): [number, number][] {
  const [lo, hi] = ephemeral;
  const ranges: [number, number][] = [];
  if (lo > POOL_FLOOR) ranges.push([POOL_FLOOR, Math.min(lo - 1, POOL_CEILING)]);
  if (hi < POOL_CEILING) ranges.push([Math.max(hi + 1, POOL_FLOOR), POOL_CEILING]);
  // an ephemeral range covering everything leaves nothing safe from it: fall back to the whole pool (locks still
  // keep test processes apart)
  return ranges.length > 0 ? ranges : [[POOL_FLOOR, POOL_CEILING]];
}

function readEphemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {
    // not Linux: the IANA dynamic range, which is what macOS and Windows use
  }
  return [49_152, 65_535];
}

/** Process start time (clock ticks since boot) so a reused pid is not taken for the lock's owner; '' off Linux. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // no such process
    return '';
  }
}

function alive(content: string): boolean {
  const [pidText, started] = content.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(pid);
  if (now === null) return false;
  return now === '' || started === undefined || now === started;
}

function identity(): { content: string; tmp: string } {
  if (me) return me;
  mkdirSync(LOCK_DIR, { recursive: true });
  // owner files of processes that died without their exit handler (SIGKILL, or a test runner killing its workers)
  for (const f of readdirSync(LOCK_DIR)) {
    const pid = /^\.owner-(\d+)-/.exec(f)?.[1];
    if (pid !== undefined && startTime(Number(pid)) === null) {
      try { unlinkSync(join(LOCK_DIR, f)); } catch { /* another process cleaned it */ }
    }
  }
  const tmp = join(LOCK_DIR, `.owner-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const content = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  writeFileSync(tmp, content);
  me = { content, tmp };
  process.once('exit', releaseAll);
  return me;
}

function tryLink(target: string): boolean {
  try {
    linkSync(identity().tmp, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `port` for this process (no bind check); false when this or another live process holds it.
 * freePort uses it; exported for the helper's own test.
 */
export function claimPort(port: number): boolean {
  if (owned.has(port)) return false;
  if (!lockFile(port)) return false;
  owned.add(port);
  return true;
}

function lockFile(port: number): boolean {
  const path = join(LOCK_DIR, String(port));
  if (tryLink(path)) return true;
  const holder = readLock(path);
  if (holder === null) return tryLink(path); // released meanwhile
  if (alive(holder)) return false;
  // the holder is gone: reclaim, one reclaimer at a time (a reclaimer that dies here leaves the port skipped)
  const mutex = `${path}.reclaim`;
  if (!tryLink(mutex)) return false;
  try {
    if (readLock(path) !== holder) return false; // someone else reclaimed it first
    unlinkSync(path);
    return tryLink(path);
  } finally {
    unlinkSync(mutex);
  }
}

function unlock(port: number): void {
  try {
    unlinkSync(join(LOCK_DIR, String(port)));
  } catch {
    // gone already
  }
  owned.delete(port);
}

function releaseAll(): void {
  for (const port of [...owned]) unlock(port);
  if (me) {
    try { unlinkSync(me.tmp); } catch { /* gone already */ }
  }
}

async function bindable(port: number, host: string): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => { u.close(); resolve(false); });
    u.bind(port, host, () => u.close(() => resolve(true)));
  });
}

function randomPort(pool: [number, number][]): number {
  const size = pool.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
  let k = Math.floor(Math.random() * size);
  for (const [lo, hi] of pool) {
    if (k <= hi - lo) return lo + k;
    k -= hi - lo + 1;
  }
  return pool[0]![0];
}

/**
 * `count` consecutive ports, each locked for this process and free on TCP and UDP at `host`; returns the first.
 * For servers that take a port range (FreeSWITCH RTP). A port that is locked but not bindable stays locked (so no
 * other test process tries it) and the search goes on.
 */
export async function freePortBlock(count: number, host = '127.0.0.1'): Promise<number> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`freePortBlock: count must be a positive integer, got ${count}`);
  const pool = portPool().filter(([lo, hi]) => hi - lo + 1 >= count);
  if (pool.length === 0) throw new Error(`freePortBlock: no range of ${count} ports outside the ephemeral range`);
  for (let attempt = 0; attempt < 500; attempt++) {
    let first = randomPort(pool);
    const range = pool.find(([lo, hi]) => first >= lo && first <= hi)!;
    first = Math.min(first, range[1] - count + 1);
    const taken: number[] = [];
    let unbindable: number | null = null;
    for (let p = first; p < first + count && unbindable === null; p++) {
      if (!claimPort(p)) break;
      taken.push(p);
      if (!(await bindable(p, host))) unbindable = p;
    }
    if (unbindable === null && taken.length === count) return first;
    // give back the good ports of a failed block; keep an unbindable one locked so no other test process tries it
    for (const p of taken) if (p !== unbindable) unlock(p);
  }
  throw new Error(`freePortBlock: no ${count} free consecutive port(s) found (locks under ${LOCK_DIR})`);
}

/** One port, locked for this process until it exits and free on TCP and UDP (SIP uses both) at `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return freePortBlock(1, host);
}
