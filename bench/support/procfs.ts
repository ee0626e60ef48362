/**
 * CPU time and resident memory of processes read from /proc (Linux): a process and all its descendants (worker
 * processes, child sipp, ...), and the whole machine's busy share (/proc/stat), for benchmarks that must say which
 * process used the CPU. Threads (worker_threads, drachtio-server's) are counted in their process's own figures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const PAGE = 4096;

interface Stat { pid: number; ppid: number; cpuS: number; rssBytes: number }

function statOf(pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields start after the last ')'
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = field 3 (state): ppid = field 4, utime = 14, stime = 15, rss = 24 (pages)
    return { pid, ppid: Number(f[1]), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssBytes: Number(f[21]) * PAGE };
  } catch {
    return null; // gone
  }
}

/** pid and every descendant alive now. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = statOf(Number(name));
    if (st) children.set(st.ppid, [...(children.get(st.ppid) ?? []), st.pid]);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) and RSS of a process tree now; per pid, so a sample can be diffed. */
export function treeSample(pid: number): { cpuByPid: Map<number, number>; rssBytes: number } {
  const cpuByPid = new Map<number, number>();
  let rssBytes = 0;
  for (const p of processTree(pid)) {
    const st = statOf(p);
    if (!st) continue;
    cpuByPid.set(p, st.cpuS);
    rssBytes += st.rssBytes;
  }
  return { cpuByPid, rssBytes };
}

/** CPU seconds a tree used between two samples (a process born in between counts from 0). */
export function cpuBetween(a: Map<number, number>, b: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of b) s += t - (a.get(pid) ?? 0);
  return s;
}

/** Machine-wide jiffies (busy, total) from /proc/stat: busy share of all cores between two samples. */
export function machineSample(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3]! + (line[4] ?? 0);
  const total = line.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export function machineBusyPct(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const t = b.total - a.total;
  return t > 0 ? +((100 * (b.busy - a.busy)) / t).toFixed(1) : 0;
}

export function loadAvg(): number[] {
  return loadavg().map((x) => +x.toFixed(2));
}
