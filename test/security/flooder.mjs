// A SIP flood from non-trunk addresses, in its own process (so it never shares the edge's event loop):
//   node test/security/flooder.mjs <port> <datagrams per second> <seconds> [first source octet=2] [sources=8]
// Sends INVITEs and OPTIONS (new Call-ID and branch each, from 127.0.0.<first>..) to 127.0.0.1:<port>, paced in
// 10 ms batches (by the clock: a late tick sends what is owed), and prints {"sent":N,"seconds":S} when done. Used by test/security/flood.test.ts and bench:flood.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

const [port, rate, seconds, first = '2', count = '8'] = process.argv.slice(2).map(Number);
if (!port || !rate || !seconds) {
  console.error('usage: flooder.mjs <port> <datagrams/s> <seconds> [first source octet] [sources]');
  process.exit(2);
}
const socks = await Promise.all(Array.from({ length: count }, (_, i) => new Promise((resolve) => {
  const s = createSocket('udp4');
  s.on('error', () => undefined); // ICMP errors and full buffers: a flood does not care
  s.bind(0, `127.0.0.${first + i}`, () => resolve(s));
})));

const run = randomBytes(4).toString('hex');
function message(i, s) {
  const method = i % 2 === 0 ? 'INVITE' : 'OPTIONS';
  const me = `127.0.0.${first + (i % count)}:${s.address().port}`;
  const id = `${run}${i}`;
  return Buffer.from([
    `${method} sip:13800138000@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${me};branch=z9hG4bK${id};rport`,
    'Max-Forwards: 70',
    `From: <sip:+8657100000000@${me}>;tag=${id}`,
    `To: <sip:13800138000@127.0.0.1:${port}>`,
    `Call-ID: ${id}@flood`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:flood@${me}>`,
    'Content-Length: 0',
    '', '',
  ].join('\r\n'));
}

const start = Date.now();
const end = start + seconds * 1000;
let sent = 0;
await new Promise((resolve) => {
  const t = setInterval(() => {
    const now = Date.now();
    if (now >= end) { clearInterval(t); resolve(); return; }
    // paced by the clock, not by the ticks (a late tick sends what is owed)
    for (let owed = Math.floor((rate * (now - start)) / 1000) - sent; owed > 0; owed--) {
      const s = socks[sent % count];
      s.send(message(sent, s), port, '127.0.0.1');
      sent++;
    }
  }, 10);
});
await new Promise((r) => setTimeout(r, 100)); // let the last sends leave
console.log(JSON.stringify({ sent, seconds: (Date.now() - start) / 1000 }));
for (const s of socks) s.close();
