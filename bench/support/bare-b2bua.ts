/**
 * The baseline of bench:sip, in its own process so its CPU is measured apart: a bare drachtio-srf B2BUA (no
 * tenant, limits, rating, charging, CDR) that sends every INVITE to the sipp carrier on --uas-port. With
 * `--server embedded` the embedded edge runs in this process too (as in the product); with
 * `--server host:port --secret S` it connects to that drachtio-server. Prints one JSON line {"sipPort":N} when ready
 * (0 behind a drachtio-server: the server's own SIP port is used), and runs until killed.
 */
import { bareB2bua, connectSrf, startTestEdge } from '../../test/edge/support.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const server = arg('server') ?? 'embedded';
const transport = (arg('transport') ?? 'udp') as 'udp' | 'tcp';
const uasPort = Number(arg('uas-port'));

let sipPort = 0;
let srf;
if (server === 'embedded') {
  const edge = await startTestEdge({ transports: [transport] });
  sipPort = edge.sipPort;
  srf = await connectSrf(edge.controlPort);
} else {
  const [, port] = server.split(':');
  srf = await connectSrf(Number(port), arg('secret'));
}
bareB2bua(srf, (req) => `sip:${req.calledNumber}@127.0.0.1:${uasPort};transport=${transport}`);
process.stdout.write(`${JSON.stringify({ sipPort })}\n`);
process.on('SIGTERM', () => process.exit(0));
