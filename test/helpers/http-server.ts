/** A real HTTP server on 127.0.0.1 and a free port for a test to talk to (webhook receivers, providers). */
import { createServer, type RequestListener } from 'node:http';

export interface LocalServer {
  port: number;
  /** close it, cutting connections still open (a test's hanging requests included) */
  close(): Promise<void>;
}

export async function listenLocal(handler: RequestListener): Promise<LocalServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
