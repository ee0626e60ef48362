/** `softswitch network firewall`: nftables rules admitting SIP only from the configured trunks and gateways. */
import { InputError } from '../../services/errors.js';
import { firewallRules } from '../../services/network.js';
import { str, UsageError, type CommandSpec } from '../framework.js';

export const firewallCommands: CommandSpec[] = [
  {
    path: ['network', 'firewall'],
    summary:
      'Print nftables rules that admit SIP only from the enabled ingress trunks and carrier gateways (host names\n' +
      'resolved now) and drop it from everyone else, for the host in front of drachtio-server (docs/security.md).\n' +
      'Load them with `nft -f <file>`; loading again replaces them. Re-run after every trunk, gateway or DNS change.',
    options: [
      { name: 'sip-port', type: 'string', doc: 'SIP port(s) to guard, comma-separated (default SIP_PORT, 5060)' },
      { name: 'transports', type: 'string', doc: 'udp, tcp or udp,tcp (default SIP_TRANSPORTS)' },
      { name: 'table', type: 'string', doc: 'nftables table name (default softswitch_sip)' },
    ],
    examples: ['softswitch network firewall > /etc/nftables.d/softswitch.nft && nft -f /etc/nftables.d/softswitch.nft', 'softswitch network firewall --sip-port 5060,5080 --json'],
    async run(ctx, args) {
      const portText = str(args, 'sip-port');
      const sipPorts = portText === undefined ? [ctx.config.edge.sipPort] : portText.split(',').map((p) => {
        if (!/^\d{1,5}$/.test(p.trim()) || Number(p) < 1 || Number(p) > 65535) throw new UsageError(`--sip-port ${JSON.stringify(portText)}: ports from 1 to 65535, comma-separated`);
        return Number(p);
      });
      const t = str(args, 'transports');
      const transports = t === undefined ? ctx.config.edge.transports : t.split(',').map((x) => x.trim());
      if (transports.length === 0 || transports.some((x) => x !== 'udp' && x !== 'tcp')) throw new UsageError(`--transports ${JSON.stringify(t)}: udp, tcp or udp,tcp`);
      const table = str(args, 'table');
      const r = await firewallRules(ctx.services(), ctx.actor, { sipPorts, transports: transports as ('udp' | 'tcp')[], ...(table !== undefined ? { table } : {}) })
        .catch((e: unknown) => {
          throw e instanceof InputError && e.field === 'table' ? new UsageError(`--table: ${e.reason}`) : e;
        });
      if (r.unresolved.length > 0) ctx.progress(`WARNING gateway host name(s) did not resolve: ${r.unresolved.join(', ')}`);
      return { json: r, text: r.rules.trimEnd() };
    },
  },
];
