/**
 * A TCP relay in front of a local port, to break a link without touching either end: `cut()` drops the open
 * connections (both ends see them close, new ones are relayed again), `silence()` keeps them open but drops every
 * byte (a host that vanished without a FIN), `speak()` relays again.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  port: number;
  cut(): void;
  silence(): void;
  speak(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  let silent = false;
  const pairs = new Set<[Socket, Socket]>();
  const drop = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    pair[0].destroy();
    pair[1].destroy();
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (d) => void (!silent && upstream.write(d)));
    upstream.on('data', (d) => void (!silent && client.write(d)));
    for (const s of pair) s.on('close', () => drop(pair)).on('error', () => drop(pair));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => [...pairs].forEach(drop),
    silence: () => void (silent = true),
    speak: () => void (silent = false),
    close: async () => {
      [...pairs].forEach(drop);
      await new Promise((r) => server.close(r));
    },
  };
}
