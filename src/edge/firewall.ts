/**
 * nftables rules that admit SIP only from the allowed sources: the same groups the embedded edge
 * checks (trunks, gateways, media servers), for production where drachtio-server faces the network and cannot drop
 * strangers itself. Pure: the caller loads the groups (sources-pg.ts loadSources) and prints the text.
 *
 * The rules live in a table of their own (`inet softswitch_sip` by default) whose chain only ever drops SIP to the
 * SIP port from sources outside the sets; everything else keeps the host's own policy. Loading the file again
 * replaces the table atomically (`table …; delete table …; table … { }` in one `nft -f` transaction).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface FirewallInput {
  /** group name → entries (IPv4/IPv6 addresses or CIDR networks; host names must be resolved already) */
  groups: Record<string, string[]>;
  /** host name → the addresses it resolved to, shown as comments */
  resolved?: Map<string, string[]>;
  /** host names that did not resolve (warned about in the output) */
  unresolved?: string[];
  sipPorts: number[];
  transports: ('udp' | 'tcp')[];
  table?: string;
  generatedAt?: Date;
}

const isV4 = (e: string): boolean => isIPv4(e.split('/')[0]!);
const isV6 = (e: string): boolean => isIPv6(e.split('/')[0]!);

function setBlock(name: string, type: string, entries: string[]): string[] {
  return [
    `  set ${name} {`,
    `    type ${type}`,
    '    flags interval',
    ...(entries.length > 0 ? [`    elements = { ${entries.join(', ')} }`] : []),
    '  }',
  ];
}

export function nftablesRules(i: FirewallInput): string {
  const table = i.table ?? 'softswitch_sip';
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(table)) throw new RangeError(`table name ${JSON.stringify(table)}: use 1-32 of A-Za-z0-9_, starting with a letter`);
  // a host is one address: '127.0.0.1/32' and '127.0.0.1' are the same element
  const all = [...new Set(Object.values(i.groups).flat().map((e) => e.replace(isV4(e) ? /\/32$/ : /\/128$/, '')))].sort();
  const v4 = all.filter(isV4);
  const v6 = all.filter(isV6);
  const ports = [...new Set(i.sipPorts)].sort((a, b) => a - b);
  const portExpr = ports.length === 1 ? String(ports[0]) : `{ ${ports.join(', ')} }`;
  const protoExpr = i.transports.length === 1 ? i.transports[0]! : `{ ${[...i.transports].sort().join(', ')} }`;
  const match = `meta l4proto ${protoExpr} th dport ${portExpr}`;
  const comments = [
    `# softswitch: SIP (${i.transports.join('/')} port ${ports.join(', ')}) only from the configured trunks, gateways and media servers.`,
    `# Generated${i.generatedAt ? ` ${i.generatedAt.toISOString()}` : ''} by \`softswitch network firewall\` from PostgreSQL. Apply with \`nft -f <file>\``,
    '# on the host in front of drachtio-server (or the embedded edge), and again after every trunk, gateway or DNS change.',
    ...Object.entries(i.groups).map(([g, e]) => `#   ${g}: ${e.length === 0 ? '(none)' : e.join(', ')}`),
    ...[...(i.resolved ?? new Map<string, string[]>())].map(([h, a]) => `#   ${h} resolved to ${a.join(', ')}`),
    ...(i.unresolved ?? []).map((h) => `#   WARNING ${h} did not resolve: its addresses are missing here`),
    ...(all.length === 0 ? ['#   WARNING no source is configured: every SIP packet to these ports is dropped'] : []),
  ];
  return [
    ...comments,
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...setBlock('sip_sources_v4', 'ipv4_addr', v4),
    ...setBlock('sip_sources_v6', 'ipv6_addr', v6),
    '  chain input {',
    '    type filter hook input priority -10; policy accept;',
    `    ${match} ip saddr @sip_sources_v4 accept`,
    `    ${match} ip6 saddr @sip_sources_v6 accept`,
    `    ${match} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}
