/** Ingress trunks (call-center source addresses we accept INVITEs from) and carrier gateways (where calls go). */
import { addGateway, addTrunk, enableGateway, enableTrunk, listGateways, listTrunks, type Gateway } from '../../services/network.js';
import { flag, reqStr, str, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

const NAME_POS = [{ name: 'name', doc: 'its name', required: true }];
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export const networkCommands: CommandSpec[] = [
  {
    path: ['trunk', 'add'],
    summary: 'Allow INVITEs from a call-center trunk address (IP allow-list) with its failure policy (RFC 4006 CCFH).',
    options: [
      { name: 'name', type: 'string', required: true, doc: 'unique name' },
      { name: 'address', type: 'string', required: true, doc: 'source IP address (any source port: trunks send from many)' },
      { name: 'failure-policy', type: 'string', values: ['terminate', 'continue'], doc: 'when Redis is down: refuse (default) or let calls through' },
    ],
    async run(ctx, args) {
      const t = await addTrunk(ctx.services(), ctx.actor, {
        name: reqStr(args, 'name'), address: reqStr(args, 'address'),
        failurePolicy: str(args, 'failure-policy') as 'terminate' | 'continue' | undefined,
      });
      return { json: t, text: `trunk ${t.name} added` };
    },
  },
  {
    path: ['trunk', 'list'],
    summary: 'List ingress trunks.',
    async run(ctx) {
      const rows = await listTrunks(ctx.services(), ctx.actor);
      return { json: rows, text: table(['name', 'address', 'failure policy', 'enabled'], rows.map((r) => [r.name, r.address, r.failurePolicy, String(r.enabled)])) };
    },
  },
  {
    path: ['trunk', 'enable'], summary: 'Accept calls from a trunk again.', positionals: NAME_POS,
    run: async (ctx, a) => ({ json: await enableTrunk(ctx.services(), ctx.actor, a.positionals[0]!, true), text: `${a.positionals[0]}: enabled` }),
  },
  {
    path: ['trunk', 'disable'], summary: 'Stop accepting calls from a trunk.', positionals: NAME_POS,
    run: async (ctx, a) => ({ json: await enableTrunk(ctx.services(), ctx.actor, a.positionals[0]!, false), text: `${a.positionals[0]}: disabled` }),
  },
  {
    path: ['gateway', 'add'],
    summary: 'Add a carrier gateway; calls try lower priority first, weighted random within a priority.',
    options: [
      { name: 'name', type: 'string', required: true, doc: 'unique name' },
      { name: 'host', type: 'string', required: true, doc: 'IP or host name' },
      { name: 'port', type: 'int', doc: 'SIP port (default 5060)' },
      { name: 'transport', type: 'string', values: ['udp', 'tcp'], doc: 'default udp' },
      { name: 'priority', type: 'int', doc: 'lower is tried first (default 10)' },
      { name: 'weight', type: 'int', doc: '1-10000 within a priority (default 100)' },
      { name: 'number-format', type: 'string', values: ['e164', 'national', 'international00'], doc: 'called number format sent (default national)' },
      { name: 'disabled', type: 'bool', doc: 'add it disabled' },
    ],
    async run(ctx, args) {
      const g = await addGateway(ctx.services(), ctx.actor, {
        name: reqStr(args, 'name'), host: reqStr(args, 'host'), port: num(args.opts.port), transport: str(args, 'transport') as Gateway['transport'] | undefined,
        priority: num(args.opts.priority), weight: num(args.opts.weight), numberFormat: str(args, 'number-format') as Gateway['numberFormat'] | undefined,
        enabled: !flag(args, 'disabled'),
      });
      return { json: g, text: `gateway ${g.name} added` };
    },
  },
  {
    path: ['gateway', 'list'],
    summary: 'List carrier gateways in the order calls try them.',
    async run(ctx) {
      const rows = await listGateways(ctx.services(), ctx.actor);
      return {
        json: rows,
        text: table(['name', 'address', 'priority', 'weight', 'format', 'enabled'], rows.map((r) => [r.name, `${r.host}:${r.port}/${r.transport}`, String(r.priority), String(r.weight), r.numberFormat, String(r.enabled)])),
      };
    },
  },
  {
    path: ['gateway', 'enable'], summary: 'Route calls to a gateway again.', positionals: NAME_POS,
    run: async (ctx, a) => ({ json: await enableGateway(ctx.services(), ctx.actor, a.positionals[0]!, true), text: `${a.positionals[0]}: enabled` }),
  },
  {
    path: ['gateway', 'disable'], summary: 'Stop routing calls to a gateway.', positionals: NAME_POS,
    run: async (ctx, a) => ({ json: await enableGateway(ctx.services(), ctx.actor, a.positionals[0]!, false), text: `${a.positionals[0]}: disabled` }),
  },
];
