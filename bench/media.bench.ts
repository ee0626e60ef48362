/**
 * What a low-credit warning costs: N calls of tenants without the warning, then N calls of tenants with it, through
 * the whole app (embedded edge, SIP app, charging, Redis, PostgreSQL) and a real FreeSWITCH (../shared/freeswitch).
 * Every call has 15 s of credit and is cut by the softswitch; with WARNING_SECONDS=30 each warned call gets its
 * warning ~2 s after answer (two re-INVITEs to the caller, an endpoint on FreeSWITCH, a 1.5 s prompt). Prints the
 * app process's CPU time (this process: edge + app) and FreeSWITCH's per batch, the extra per warned call, and the
 * load average beside them (the machine may be shared: the figures are rough).
 *
 *   npm run bench:media                 # N = 20
 *   npm run bench:media -- --calls 40
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSipp, scenarioFor, type Harness } from '../test/e2e/harness.js';
import { freePort } from '../test/helpers/ports.js';
import { skipReason, startFreeSwitch } from '../test/freeswitch/freeswitch.js';
import { announced, carrier, mediaHarness, openRtpSink } from '../test/freeswitch/media-helpers.js';

const i = process.argv.indexOf('--calls');
const N = i >= 0 ? Number(process.argv[i + 1]) : 20;
if (!Number.isInteger(N) || N < 1 || N > 200) {
  console.error('usage: media.bench.ts [--calls N (1-200)]');
  process.exit(2);
}
if (skipReason) {
  console.log(skipReason);
  process.exit(0);
}

/** CPU seconds (user+system) of a process from /proc/<pid>/stat. */
function procCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (100/s)
}

async function batch(h: Harness, fsPid: number, warned: boolean, tag: string): Promise<{ appCpu: number; fsCpu: number; ok: number; wall: number }> {
  const callers: string[] = [];
  for (let k = 0; k < N; k++) {
    const number = `+86571${warned ? '7' : '6'}${String(k).padStart(6, '0')}`;
    const t = await h.tenant({ code: `${tag}${k}`, number, balanceFen: 150n }); // 6 CNY/min: 15 s
    if (warned) await h.db.pool.query('update tenants set low_credit_warning = true where id = $1', [t]);
    callers.push(number);
  }
  const sink = await openRtpSink();
  const gw = await carrier(h, sink, N);
  const dir = mkdtempSync(join(tmpdir(), 'media-bench-'));
  const csv = join(dir, 'callers.csv');
  writeFileSync(csv, `SEQUENTIAL\n${callers.join('\n')}\n`);
  const scn = scenarioFor('media-uac-warned.xml', { ...(warned ? { '<!--REINVITES': '', 'REINVITES-->': '' } : {}), '[caller]': '[field0]' });
  const cpu0 = process.cpuUsage();
  const fs0 = procCpu(fsPid);
  const t0 = Date.now();
  const r = await runSipp(scn, [
    `127.0.0.1:${h.target.sipPort}`, '-p', String(await freePort()), '-m', String(N), '-r', '5', '-l', String(N), '-s', '13800138000',
    '-inf', csv, '-key', 'rtp_port', String(sink.port),
  ], '127.0.0.1', 120);
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fsCpu = procCpu(fsPid) - fs0;
  await gw.done;
  await sink.close();
  if (r.failed > 0) console.error(`${tag}: ${r.failed} failed calls\n${r.errors.slice(0, 2000)}`);
  return { appCpu: (cpu.user + cpu.system) / 1e6, fsCpu, ok: r.successful, wall };
}

const fs = await startFreeSwitch();
const { h } = await mediaHarness(fs, { 'media.warningSeconds': 30 });
const fsPid = fs.pid();
const load0 = loadavg()[0]!;
const plain = await batch(h, fsPid, false, 'p');
const played0 = await announced('low_credit', 'played');
const warned = await batch(h, fsPid, true, 'w');
const played = (await announced('low_credit', 'played')) - played0;
const load1 = loadavg()[0]!;
const rows = [
  { batch: 'plain', calls: N, ok: plain.ok, wallS: plain.wall, appCpuS: plain.appCpu, fsCpuS: plain.fsCpu },
  { batch: 'warned', calls: N, ok: warned.ok, wallS: warned.wall, appCpuS: warned.appCpu, fsCpuS: warned.fsCpu },
];
for (const r of rows) console.log(JSON.stringify(r));
console.table(rows.map((r) => ({ ...r, wallS: r.wallS.toFixed(1), appCpuS: r.appCpuS.toFixed(3), fsCpuS: r.fsCpuS.toFixed(2) })));
const perPlain = plain.appCpu / N;
const extraApp = (warned.appCpu - plain.appCpu) / N;
const extraFs = (warned.fsCpu - plain.fsCpu) / N;
console.log(`app CPU per call: plain ${(perPlain * 1000).toFixed(1)} ms; extra per warned call ${(extraApp * 1000).toFixed(1)} ms (×${(warned.appCpu / plain.appCpu).toFixed(2)} for the batch)`);
console.log(`warnings played: ${played} of ${N}`);
console.log(`FreeSWITCH CPU extra per warned call: ${(extraFs * 1000).toFixed(0)} ms (1.5 s prompt, PCMU)`);
console.log(`load average (1 min) before/after: ${load0.toFixed(2)} / ${load1.toFixed(2)} on ${(await import('node:os')).cpus().length} cores`);
await h.close();
await fs.stop();
process.exit(0);
