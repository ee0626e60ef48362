/**
 * The drachtio control port: srf apps connect here over TCP, authenticate with the shared secret, subscribe to
 * request methods (`route`), and exchange SIP through `sip` / `proxy` frames. Reply formats follow drachtio-server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { FrameDecoder, FrameError, frameText } from './framing.js';
import { sameSecret } from '../../util/secrets.js';

const SERVER_VERSION = 'v0.9.3';

export class AppConn {
  readonly routes = new Set<string>();
  authenticated = false;
  closed = false;
  tags: string[] = [];

  constructor(readonly id: string, private readonly socket: Socket) {}

  /** One string write per frame (profile, docs/performance.md). */
  send(payload: string): void {
    if (this.closed) return;
    this.socket.write(frameText(payload));
  }

  /** Answer a client request: `<newId>|response|<msgId>|<rest>`. */
  reply(msgId: string, rest: string): void {
    this.send(`${randomUUID()}|response|${msgId}|${rest}`);
  }

  close(): void {
    this.closed = true;
    this.socket.end();
  }
}

export interface AppMessageHandler {
  /** `tokens` is the split leader (tokens[0] msgId, tokens[1] verb); `body` is the SIP text after the first CRLF. */
  onSip(app: AppConn, tokens: string[], body: string): void;
  onProxy(app: AppConn, tokens: string[], body: string): void;
  onAppGone(app: AppConn): void;
  /** hostports for the authenticate answer, e.g. `udp/127.0.0.1:5060,tcp/127.0.0.1:5060`. */
  hostports(): string;
}

export class WireServer {
  private server?: Server;
  private readonly apps = new Set<AppConn>();
  private readonly rr = new Map<string, number>();
  port = 0;

  constructor(private readonly secret: string, private readonly log: Logger, private readonly h: AppMessageHandler) {}

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`edge: cannot listen for drachtio apps on ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => { server.removeAllListeners('error'); resolve(); });
    });
    server.on('error', (err) => this.log.error({ err }, 'control port error'));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Round-robin over authenticated apps that routed this (lowercase) verb. */
  pick(verb: string): AppConn | undefined {
    const candidates = [...this.apps].filter((a) => a.authenticated && !a.closed && a.routes.has(verb));
    if (candidates.length === 0) return undefined;
    const n = (this.rr.get(verb) ?? 0) % candidates.length;
    this.rr.set(verb, n + 1);
    return candidates[n];
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const app = new AppConn(randomUUID(), socket);
    this.apps.add(app);
    const log = this.log.child({ app: app.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      let frames: string[];
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        log.warn({ err: (err as FrameError).message }, 'bad frame from app; closing connection');
        socket.destroy();
        return;
      }
      for (const f of frames) {
        try {
          this.onFrame(app, f, log);
        } catch (err) {
          log.error({ err }, 'error handling app frame');
        }
      }
    });
    socket.on('error', (err) => log.debug({ err }, 'app connection error'));
    socket.on('close', () => {
      app.closed = true;
      this.apps.delete(app);
      this.h.onAppGone(app);
      log.info('app disconnected');
    });
  }

  private onFrame(app: AppConn, payload: string, log: Logger): void {
    const crlf = payload.indexOf('\r\n');
    const leader = crlf < 0 ? payload : payload.slice(0, crlf);
    const body = crlf < 0 ? '' : payload.slice(crlf + 2);
    const tokens = leader.split('|');
    const [msgId = '', verb = ''] = tokens;
    if (!app.authenticated && verb !== 'authenticate') {
      log.warn({ verb }, 'app sent a request before authenticating; closing connection');
      app.reply(msgId, 'NOK|authenticate first');
      app.close();
      return;
    }
    switch (verb) {
      case 'authenticate': {
        if (!sameSecret(tokens[2] ?? '', this.secret)) {
          log.warn('app failed to authenticate');
          app.reply(msgId, 'NO|incorrect secret');
          app.close();
          return;
        }
        app.authenticated = true;
        app.tags = (tokens[3] ?? '').split(',').filter((t) => t !== '');
        const hp = this.h.hostports();
        app.reply(msgId, `OK|${hp}|${SERVER_VERSION}|${hp}`);
        log.info({ tags: app.tags }, 'app authenticated');
        return;
      }
      case 'route':
        app.routes.add((tokens[2] ?? '').toLowerCase());
        app.reply(msgId, 'OK');
        return;
      case 'remove_route':
        app.routes.delete((tokens[2] ?? '').toLowerCase());
        app.reply(msgId, 'OK');
        return;
      case 'ping':
        app.reply(msgId, 'OK|pong');
        return;
      case 'sip':
        this.h.onSip(app, tokens, body);
        return;
      case 'proxy':
        this.h.onProxy(app, tokens, body);
        return;
      default:
        log.warn({ verb }, 'unknown wire verb from app');
        app.reply(msgId, `NOK|unknown message type: ${verb.slice(0, 40)}`);
    }
  }

  async close(): Promise<void> {
    for (const a of this.apps) a.close();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
