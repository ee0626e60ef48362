/** Which webhook addresses are refused (pure: src/notify/webhook-target.ts, no I/O). */
import { describe, expect, it } from 'vitest';
import { refusedAddress } from '../../src/notify/webhook-target.js';

describe('which addresses are refused (pure)', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1',
    '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '192.0.0.8', '198.18.0.1',
    '::', '::1', 'fe80::1', 'febf::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1',
    '::ffff:169.254.169.254', '::127.0.0.1', '64:ff9b::a00:1', '2002:7f00:1::1', '2002:c0a8:101::1', 'fec0::1', '0:0:0:0:0:0:0:1', '::ffff:0:0',
  ])('%s is refused', (ip) => {
    expect(refusedAddress(ip, [])).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.1', '172.15.255.255', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    '%s is public', (ip) => {
      expect(refusedAddress(ip, [])).toBe(false);
    },
  );

  it('an operator allow-list (CIDRs) lets chosen private ranges through, IPv4-mapped forms included; nothing else', () => {
    expect(refusedAddress('10.1.2.3', ['10.1.0.0/16'])).toBe(false);
    expect(refusedAddress('::ffff:10.1.2.3', ['10.1.0.0/16'])).toBe(false);
    expect(refusedAddress('10.2.0.1', ['10.1.0.0/16'])).toBe(true);
    expect(refusedAddress('fd00::5', ['fd00::/8'])).toBe(false);
    expect(refusedAddress('127.0.0.1', ['10.1.0.0/16'])).toBe(true);
    expect(refusedAddress('not-an-ip', [])).toBe(true);
  });
});
