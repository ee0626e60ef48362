/**
 * The test port helper across real processes: parallel processes never get the same port, no port is in the
 * kernel's ephemeral range, a live holder keeps its ports, a killed holder's locks are reclaimed, and a clean exit
 * removes its locks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { claimPort, freePort, freePortBlock, portPool } from '../helpers/ports.js';
import { projectPath } from '../../src/util/paths.js';

const LOCK_DIR = join(tmpdir(), 'softswitch-test-ports');
/** node itself (not the tsx wrapper, whose pid is not the holder's) running TypeScript via tsx's loader. */
const TS_NODE = ['--import', 'tsx', '--input-type=module', '--eval'];
const HELPER = projectPath('test', 'helpers', 'ports.ts');

/** A child process that takes `n` ports with freePort (all at once), prints them as one JSON line, then waits. */
function holder(n: number): { proc: ChildProcess; ports: Promise<number[]> } {
  const code = `import { freePort } from ${JSON.stringify(HELPER)};
    Promise.all(Array.from({ length: ${n} }, () => freePort())).then((ports) => console.log(JSON.stringify(ports)));
    process.stdin.on('data', () => undefined);
    process.stdin.on('end', () => process.exit(0));`;
  const proc = spawn(process.execPath, [...TS_NODE, code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = new Promise<number[]>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', (l) => resolve(JSON.parse(l) as number[]));
    proc.once('exit', (c) => reject(new Error(`port holder exited (${c}) before printing its ports`)));
  });
  return { proc, ports };
}

const exited = (p: ChildProcess): Promise<void> => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

describe('test port allocation', () => {
  it('parallel processes never get the same port, and none is in the ephemeral range', async () => {
    const kids = Array.from({ length: 4 }, () => holder(150));
    try {
      const lists = await Promise.all(kids.map((k) => k.ports));
      const all = lists.flat();
      expect(all).toHaveLength(600);
      expect(new Set(all).size).toBe(600);
      const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      expect(all.filter((p) => p >= lo! && p <= hi!)).toEqual([]);
      // each lock names its holder
      lists.forEach((ports, i) => {
        for (const p of ports.slice(0, 5)) expect(readFileSync(join(LOCK_DIR, String(p)), 'utf8').split(' ')[0]).toBe(String(kids[i]!.proc.pid));
      });
      // a clean exit removes its locks
      const k0 = kids[0]!;
      k0.proc.stdin!.end();
      await exited(k0.proc);
      expect(k0.proc.exitCode).toBe(0);
      expect(lists[0]!.filter((p) => existsSync(join(LOCK_DIR, String(p))))).toEqual([]);
    } finally {
      for (const k of kids) k.proc.kill('SIGKILL');
    }
  }, 60_000);

  it('a live holder keeps its ports; after SIGKILL its locks are reclaimed', async () => {
    const k = holder(3);
    const ports = await k.ports;
    try {
      for (const p of ports) expect(claimPort(p)).toBe(false);
    } finally {
      k.proc.kill('SIGKILL');
    }
    await exited(k.proc);
    for (const p of ports) expect(existsSync(join(LOCK_DIR, String(p)))).toBe(true); // no exit handler ran
    for (const p of ports) expect(claimPort(p)).toBe(true);
    for (const p of ports) expect(readFileSync(join(LOCK_DIR, String(p)), 'utf8').split(' ')[0]).toBe(String(process.pid));
    // and this process does not hand them out twice
    for (const p of ports) expect(claimPort(p)).toBe(false);
  }, 60_000);

  it('a lock whose pid was reused by another process (other start time) is reclaimed', async () => {
    const port = await freePort();
    // our own lock rewritten as an earlier process with our pid would have left it
    writeFileSync(join(LOCK_DIR, String(port)), `${process.pid} 1\n`);
    // another process sees a live pid with the wrong start time: not the holder, so it may take the port
    const code = `import { claimPort } from ${JSON.stringify(HELPER)}; console.log(claimPort(${port}));`;
    const out = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [...TS_NODE, code], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      p.stdout!.on('data', (c: Buffer) => { s += c.toString(); });
      p.once('exit', () => resolve(s.trim()));
    });
    expect(out).toBe('true');
  }, 60_000);

  it('freePortBlock returns consecutive ports, all locked by this process', async () => {
    const first = await freePortBlock(10);
    for (let p = first; p < first + 10; p++) {
      expect(readFileSync(join(LOCK_DIR, String(p)), 'utf8').split(' ')[0]).toBe(String(process.pid));
      expect(claimPort(p)).toBe(false);
    }
  });

  it('the pool leaves out the ephemeral range and the ports below 21000', () => {
    expect(portPool([32768, 60999])).toEqual([[21000, 32767], [61000, 65535]]);
    expect(portPool([1024, 65535])).toEqual([[21000, 65535]]);
    expect(portPool([49152, 65535])).toEqual([[21000, 49151]]);
  });
});
