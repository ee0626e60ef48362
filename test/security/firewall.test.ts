/**
 * `softswitch network firewall`: nftables rules from the trunks and gateways in PostgreSQL. The
 * output is checked by `nft -c`, and then really loaded into a private network namespace (`unshare -n`: the host's
 * firewall is never touched) where SIP over UDP and TCP from allowed and other loopback addresses shows that only
 * the configured sources get through. Where nft or namespaces are unavailable those steps skip, saying why.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftablesRules } from '../../src/edge/firewall.js';
import { projectPath } from '../../src/util/paths.js';
import { createTestDb, type TestDb } from '../helpers/pg.js';

const NFT = ['/usr/sbin/nft', '/sbin/nft', 'nft'].find((p) => spawnSync(p, ['--version']).status === 0);
const nsWorks = NFT !== undefined && spawnSync('unshare', ['-n', NFT, 'list', 'ruleset']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'fw-test-'));

/** `nft -c -f` on the rules: '' when valid, else nft's complaint. */
function nftCheck(rules: string): string {
  const f = join(dir, `check-${Math.random().toString(36).slice(2)}.nft`);
  writeFileSync(f, rules);
  const r = spawnSync(NFT!, ['-c', '-f', f], { encoding: 'utf8' });
  return r.status === 0 ? '' : r.stderr;
}

function cli(args: string[], url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), ...args], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nftablesRules (pure)', () => {
  it('puts IPv4 and IPv6 hosts and networks in their sets and drops the rest of the SIP port only', () => {
    const rules = nftablesRules({ groups: { trunks: ['10.0.0.5', '192.168.8.0/22', '2001:db8::/64'], gateways: ['203.0.113.7'] }, sipPorts: [5060], transports: ['udp', 'tcp'] });
    expect(rules).toContain('elements = { 10.0.0.5, 192.168.8.0/22, 203.0.113.7 }');
    expect(rules).toContain('elements = { 2001:db8::/64 }');
    expect(rules).toContain('meta l4proto { tcp, udp } th dport 5060 ip saddr @sip_sources_v4 accept');
    expect(rules).toContain('meta l4proto { tcp, udp } th dport 5060 counter drop');
    expect(rules).toMatch(/^table inet softswitch_sip\ndelete table inet softswitch_sip\ntable inet softswitch_sip \{/m);
    const none = nftablesRules({ groups: { trunks: [], gateways: [] }, sipPorts: [5060, 5080], transports: ['udp'], table: 'sbc' });
    expect(none).not.toContain('elements');
    expect(none).toContain('WARNING no source is configured');
    expect(none).toContain('meta l4proto udp th dport { 5060, 5080 } counter drop');
    expect(() => nftablesRules({ groups: {}, sipPorts: [5060], transports: ['udp'], table: 'bad name;' })).toThrow(RangeError);
  });

  it.skipIf(!NFT)('is valid nftables syntax (nft -c)', () => {
    for (const groups of [{ t: ['10.0.0.5', '192.168.8.0/22', '2001:db8::1'] }, { t: [] }]) {
      expect(nftCheck(nftablesRules({ groups, sipPorts: [5060, 5080], transports: ['udp', 'tcp'] }))).toBe('');
    }
  });
});

describe('softswitch network firewall (the CLI, from PostgreSQL)', () => {
  let db: TestDb;
  let printed = ''; // the rules the CLI printed for port 5060, loaded into the namespace below
  beforeAll(async () => {
    db = await createTestDb();
    await db.pool.query(`insert into ingress_trunks (name, address) values ('ccc', '127.0.0.1'), ('ccc-net', '10.20.0.0/16')`);
    await db.pool.query(`insert into ingress_trunks (name, address, enabled) values ('old', '127.0.0.3', false)`);
    await db.pool.query(`insert into carrier_gateways (name, host) values ('gw-ip', '127.0.0.4'), ('gw-name', 'localhost')`);
    await db.pool.query(`insert into carrier_gateways (name, host, enabled) values ('gw-off', '127.0.0.6', false)`);
  });
  afterAll(async () => { await db?.drop(); });

  it('prints the enabled trunks and gateways (names resolved), never the disabled ones; bad options exit 2', async () => {
    const [text, json, bad] = await Promise.all([
      cli(['network', 'firewall', '--sip-port', '5060,5070'], db.url),
      cli(['network', 'firewall', '--json'], db.url),
      cli(['network', 'firewall', '--transports', 'sctp'], db.url),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('elements = { 10.20.0.0/16, 127.0.0.1, 127.0.0.4 }');
    expect(text.stdout).toContain('#   localhost resolved to 127.0.0.1');
    expect(text.stdout).toContain('th dport { 5060, 5070 } counter drop');
    printed = text.stdout;
    expect(text.stdout).not.toMatch(/127\.0\.0\.[36]/);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ groups: { trunks: ['10.20.0.0/16', '127.0.0.1/32'], gateways: ['127.0.0.1', '127.0.0.4'] }, sipPorts: [5060] });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--transports');
    if (NFT) expect(nftCheck(text.stdout)).toBe('');
  });

  it.skipIf(!nsWorks)('loaded into a private network namespace, it lets SIP in from the trunks and gateways only (UDP and TCP)', async () => {
    expect(printed).toContain('counter drop');
    const rules = join(dir, 'softswitch.nft');
    writeFileSync(rules, printed);
    // inside the namespace: a SIP "server" on 127.0.0.1:5060 (UDP + TCP) and senders from several loopback addresses
    const probe = `
      const dgram = require('node:dgram'), net = require('node:net');
      const got = new Set(); const tcp = new Set();
      const u = dgram.createSocket('udp4'); u.on('message', (m) => got.add(String(m)));
      const t = net.createServer((s) => s.on('data', (d) => tcp.add(String(d))));
      u.bind(5060, '127.0.0.1', () => t.listen(5060, '127.0.0.1', async () => {
        const from = ['127.0.0.1', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
        for (const a of from) {
          const s = dgram.createSocket('udp4');
          await new Promise((r) => s.bind(0, a, r));
          await new Promise((r) => s.send('OPTIONS from ' + a, 5060, '127.0.0.1', r));
          s.close();
          const c = net.connect({ host: '127.0.0.1', port: 5060, localAddress: a, timeout: 500 });
          c.on('connect', () => c.end('OPTIONS tcp from ' + a)); c.on('timeout', () => c.destroy()); c.on('error', () => {});
        }
        setTimeout(() => { console.log(JSON.stringify({ udp: [...got].sort(), tcp: [...tcp].sort() })); process.exit(0); }, 1500);
      }));`;
    const r = execFileSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && ${NFT} -f "$0" && exec "$1" -e "$2"`, rules, process.execPath, probe], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(r.trim())).toEqual({
      udp: ['OPTIONS from 127.0.0.1', 'OPTIONS from 127.0.0.4'],
      tcp: ['OPTIONS tcp from 127.0.0.1', 'OPTIONS tcp from 127.0.0.4'],
    });
  });
});
