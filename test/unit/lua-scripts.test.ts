/**
 * The Lua scripts' headers, their named KEYS/ARGV locals and the loader's table (src/charging/scripts.ts) agree; and
 * authorize.lua's 26 positional arguments are built in the order its header numbers them (src/charging/authorize-args.ts).
 * Pure: reads the .lua files, no Redis.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authorizeArgs, type AuthorizeInput } from '../../src/charging/authorize-args.js';
import { keyLayout } from '../../src/charging/keys.js';
import { SCRIPTS, type ScriptName } from '../../src/charging/scripts.js';
import { projectPath } from '../../src/util/paths.js';

interface Slot { index: number; name: string }
interface Parsed { header: string[]; code: string[]; localKeys: Slot[]; localArgv: Slot[] }

const slots = (re: RegExp, lines: string[]): Slot[] => lines.flatMap((l) => {
  const m = re.exec(l);
  return m ? [{ name: m[1]!, index: Number(m[2]) }] : [];
});

/** The leading comment block of a script, its code lines (comments dropped) and its `local name = KEYS[n]` /
 * `local name = ARGV[n]` (or `tonumber(ARGV[n]...`) declarations. */
function parse(file: string): Parsed {
  const lines = readFileSync(projectPath('src', ...file.split('/')), 'utf8').split('\n');
  const first = lines.findIndex((l) => !l.startsWith('--'));
  const code = lines.slice(first).filter((l) => !l.trimStart().startsWith('--'));
  return {
    header: lines.slice(0, first),
    code,
    localKeys: slots(/^local (\w+) = KEYS\[(\d+)\]$/, code),
    localArgv: slots(/^local (\w+) = (?:tonumber\()?ARGV\[(\d+)\]/, code),
  };
}

/** The header's `-- KEYS[n] name` or `-- ARGV[n] name` lines (a range such as ARGV[3..n] is prose, not a slot). */
const headerSlots = (p: Parsed, what: 'KEYS' | 'ARGV'): Slot[] => slots(new RegExp(`^-- ${what}\\[(?=\\d+\\]\\s+(\\w+))(\\d+)\\]`), p.header);

describe('Lua script headers and the loader table', () => {
  for (const [name, spec] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
    it(`${name} (${spec.file}): header KEYS = numberOfKeys, header names = locals, no unnamed KEYS/ARGV`, () => {
      const p = parse(spec.file);
      const hk = headerSlots(p, 'KEYS');
      const ha = headerSlots(p, 'ARGV');
      // KEYS[1..numberOfKeys], each once, in order, each a named local of the same index
      expect(hk.map((s) => s.index)).toEqual(Array.from({ length: spec.numberOfKeys }, (_, i) => i + 1));
      expect(p.localKeys).toEqual(hk);
      // every fixed ARGV position the header names is a local of that name and index, and the other way round
      expect(new Set(ha.map((s) => s.index)).size).toBe(ha.length);
      expect([...p.localArgv].sort((a, b) => a.index - b.index)).toEqual([...ha].sort((a, b) => a.index - b.index));
      // the code past the declarations reads KEYS/ARGV at fixed positions only through those locals
      const body = p.code.filter((l) => !/^local \w+ = (?:tonumber\()?(KEYS|ARGV)\[\d+\]/.test(l));
      expect(body.filter((l) => /KEYS\[|ARGV\[\d+\]/.test(l))).toEqual([]);
      expect(p.header.join('\n')).toMatch(/Returns/);
      expect(p.header.join('\n')).toMatch(/Invariant/);
    });
  }
});

describe('authorize.lua arguments', () => {
  const k = keyLayout(16);
  const input: AuthorizeInput = {
    callId: 'call-1@host', tenantId: '35', now: 1_700_000_000_001, planId: '7', price: '80000', connectFee: '1000', initIncr: 6, subIncr: 7,
    minSeconds: 8, rounding: 'half-up', firstSlice: 60, maxCall: 7200, order: 'gift-first', instanceId: 'inst-1', pendingLeaseEnd: 1_700_000_400_001,
    rateJson: '{"ratePlanId":"7"}', callee: '8613800138000',
  };

  it('every value is distinct, so a swapped position cannot pass unnoticed', () => {
    const values = Object.values(input);
    expect(new Set(values).size).toBe(values.length);
  });

  it('KEYS then ARGV in the order of the header, every header name filled from the input field of that name', () => {
    const p = parse(SCRIPTS.chargeAuthorize.file);
    const hk = headerSlots(p, 'KEYS');
    const ha = headerSlots(p, 'ARGV');
    const nKeys = SCRIPTS.chargeAuthorize.numberOfKeys;
    expect(hk).toHaveLength(nKeys);
    const args = authorizeArgs(k, input);
    expect(args).toHaveLength(nKeys + ha.length);
    expect(args).toHaveLength(26);

    const s = k.shardOfTenant(input.tenantId);
    const t = input.tenantId;
    const keyOf: Record<string, string> = {
      tenantKey: k.tenant(t), bucketsKey: k.buckets(t), metaKey: k.bucketMeta(t), expSeqKey: k.expirySeq(t), callKey: k.call(s, input.callId),
      doneKey: k.done(s, input.callId), leasesKey: k.leases(s), outboxKey: k.outbox(s), liveKey: k.calls(t),
    };
    expect(hk.map((x) => x.name).sort()).toEqual(Object.keys(keyOf).sort());
    for (const { index, name } of hk) expect(args[index - 1], `KEYS[${index}] ${name}`).toBe(keyOf[name]);

    expect(ha.map((x) => x.name).sort()).toEqual(Object.keys(input).sort());
    for (const { index, name } of ha) expect(args[nKeys + index - 1], `ARGV[${index}] ${name}`).toBe(input[name as keyof AuthorizeInput]);
  });
});
