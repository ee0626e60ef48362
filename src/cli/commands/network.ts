/** Ingress trunks (call-center source addresses we accept INVITEs from) and carrier gateways (where calls go). */
import { flag, int, reqStr, str, UsageError, type CliContext, type CommandSpec } from '../framework.js';
import { table } from './shared.js';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new UsageError(`name ${JSON.stringify(name)}: use 1-63 of a-z 0-9 _ . -`);
  return name;
}

/** Run a write; turn PostgreSQL's refusals of bad values into clear usage errors. */
async function write<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === '23505') throw new UsageError(`${what} already exists`);
    if (code === '22P02' || code === '23514') throw new UsageError(`${what}: ${(e as Error).message}`);
    throw e;
  }
}

async function setEnabled(ctx: CliContext, table_: 'ingress_trunks' | 'carrier_gateways', name: string, enabled: boolean) {
  const r = await ctx.pool().query(`update ${table_} set enabled = $2 where name = $1 returning name, enabled`, [name, enabled]);
  if (!r.rows[0]) throw new UsageError(`no ${table_ === 'ingress_trunks' ? 'trunk' : 'gateway'} ${JSON.stringify(name)}`);
  return { json: r.rows[0], text: `${name}: ${enabled ? 'enabled' : 'disabled'}` };
}

const NAME_POS = [{ name: 'name', doc: 'its name', required: true }];

export const networkCommands: CommandSpec[] = [
  {
    path: ['trunk', 'add'],
    summary: 'Allow INVITEs from a call-center trunk address (IP allow-list) with its failure policy (RFC 4006 CCFH).',
    options: [
      { name: 'name', type: 'string', required: true, doc: 'unique name' },
      { name: 'address', type: 'string', required: true, doc: 'source IP address' },
      { name: 'port', type: 'int', doc: 'source port (default any)' },
      { name: 'failure-policy', type: 'string', values: ['terminate', 'continue'], doc: 'when Redis is down: refuse (default) or let calls through' },
    ],
    async run(ctx, args) {
      const name = checkName(reqStr(args, 'name'));
      const port = args.opts.port === undefined ? null : int(args, 'port', 0, 1, 65535);
      const r = await write(`trunk ${name}`, () => ctx.pool().query(
        `insert into ingress_trunks (name, address, port, failure_policy) values ($1, $2, $3, $4) returning id, name, host(address) as address, port, failure_policy, enabled`,
        [name, reqStr(args, 'address'), port, str(args, 'failure-policy') ?? 'terminate'],
      ));
      return { json: r.rows[0], text: `trunk ${name} added` };
    },
  },
  {
    path: ['trunk', 'list'],
    summary: 'List ingress trunks.',
    async run(ctx) {
      const { rows } = await ctx.pool().query<{ name: string; address: string; port: number | null; failure_policy: string; enabled: boolean }>(
        `select name, host(address) as address, port, failure_policy, enabled from ingress_trunks order by name`);
      return { json: rows, text: table(['name', 'address', 'port', 'failure policy', 'enabled'], rows.map((r) => [r.name, r.address, r.port?.toString() ?? 'any', r.failure_policy, String(r.enabled)])) };
    },
  },
  { path: ['trunk', 'enable'], summary: 'Accept calls from a trunk again.', positionals: NAME_POS, run: (ctx, a) => setEnabled(ctx, 'ingress_trunks', a.positionals[0]!, true) },
  { path: ['trunk', 'disable'], summary: 'Stop accepting calls from a trunk.', positionals: NAME_POS, run: (ctx, a) => setEnabled(ctx, 'ingress_trunks', a.positionals[0]!, false) },
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
      const name = checkName(reqStr(args, 'name'));
      const host = reqStr(args, 'host');
      if (!/^[A-Za-z0-9.\-:[\]]{1,253}$/.test(host)) throw new UsageError(`--host ${JSON.stringify(host)} is not a host name or IP`);
      const r = await write(`gateway ${name}`, () => ctx.pool().query(
        `insert into carrier_gateways (name, host, port, transport, priority, weight, number_format, enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
        [name, host, int(args, 'port', 5060, 1, 65535), str(args, 'transport') ?? 'udp', int(args, 'priority', 10, 0, 1000),
         int(args, 'weight', 100, 1, 10_000), str(args, 'number-format') ?? 'national', !flag(args, 'disabled')],
      ));
      return { json: r.rows[0], text: `gateway ${name} added` };
    },
  },
  {
    path: ['gateway', 'list'],
    summary: 'List carrier gateways in the order calls try them.',
    async run(ctx) {
      const { rows } = await ctx.pool().query<{ name: string; host: string; port: number; transport: string; priority: number; weight: number; number_format: string; enabled: boolean }>(
        `select name, host, port, transport, priority, weight, number_format, enabled from carrier_gateways order by priority, name`);
      return {
        json: rows,
        text: table(['name', 'address', 'priority', 'weight', 'format', 'enabled'], rows.map((r) => [r.name, `${r.host}:${r.port}/${r.transport}`, String(r.priority), String(r.weight), r.number_format, String(r.enabled)])),
      };
    },
  },
  { path: ['gateway', 'enable'], summary: 'Route calls to a gateway again.', positionals: NAME_POS, run: (ctx, a) => setEnabled(ctx, 'carrier_gateways', a.positionals[0]!, true) },
  { path: ['gateway', 'disable'], summary: 'Stop routing calls to a gateway.', positionals: NAME_POS, run: (ctx, a) => setEnabled(ctx, 'carrier_gateways', a.positionals[0]!, false) },
];
