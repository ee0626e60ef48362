/**
 * Calls whose drachtio server connection was lost. drachtio-server ties a dialog to the app connection that made it,
 * so the calls that came through a lost connection can no longer hear either side hang up (a reconnection is a new
 * connection), and the embedded edge drops them. So they end now, billed up to this instant; unanswered ones fail
 * with 503. Their dialogs, should the server still hold them, get a BYE through the new connection once it is back
 * (drachtio-server finds a dialog by id whatever connection asks).
 *
 * Invariants:
 * - a call is marked lost at most once (the first reason stays) and an attempt in flight stops waiting at once;
 * - a lost call ends through its session's one end path: answered → end(), billed up to now; not answered →
 *   endUnanswered() as failed/503, with no reply (none could reach the caller);
 * - the dialogs of every answered call ended while its server was lost get one BYE when that server is back
 *   (serverUp), and are then forgotten.
 */
import assert from 'node:assert';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import type { CallContext } from './call-context.js';
import { byeHeaders } from './headers.js';
import type { SipServer } from './servers.js';

function markLost(ctx: CallContext, why: string): void {
  ctx.lost ??= why;
  ctx.onLost?.({ ok: false, status: 503, reason: why });
}

/** A lost server's call not answered yet: no reply can reach the caller through it any more. */
export function lostUnanswered(ctx: CallContext): Promise<void> {
  return ctx.session!.endUnanswered({ result: 'failed', sipStatus: 503, disconnectReason: ctx.lost! });
}

export class LostServers {
  /** Dialogs of calls ended while their server was lost, per server: hung up when it is back (serverUp). */
  private readonly orphans = new Map<SipServer, string[]>();

  /** `contexts`: the book's live calls (call-book.ts), read when a server is lost. */
  constructor(private readonly contexts: ReadonlyMap<string, CallContext>, private readonly log: Logger) {}

  /** A lost server's answered call: billed up to now; its dialogs are hung up once the server is back. */
  async lostAnswered(ctx: CallContext): Promise<void> {
    assert(ctx.lost !== null && ctx.session?.answered === true, 'lostAnswered() for a call that is not answered and lost');
    this.orphans.set(ctx.server, [...(this.orphans.get(ctx.server) ?? []), ...ctx.dialogIds]);
    await ctx.session.end({ side: 'system', reason: ctx.lost, byeText: 'service unavailable' });
  }

  /** The connection to a server is gone: its calls end now (see the header). */
  serverDown(server: SipServer): void {
    const why = `drachtio server ${server.name} lost`;
    const victims = [...this.contexts.values()].filter((c) => c.server === server && c.session && !c.session.ended && !c.lost);
    if (victims.length > 0) this.log.warn({ drachtio: server.name, calls: victims.length }, 'drachtio server lost: ending its calls');
    for (const c of victims) {
      metrics.drachtioLostCalls.inc({ server: server.name });
      markLost(c, why);
      if (c.session!.answered) void this.lostAnswered(c);
    }
  }

  /** A server is (back) up: BYE the dialogs of the calls that ended while it was lost. */
  serverUp(server: SipServer): void {
    const ids = this.orphans.get(server) ?? [];
    this.orphans.delete(server);
    for (const stackDialogId of ids) {
      server.srf.request('sip:in-dialog', { method: 'BYE', stackDialogId, headers: byeHeaders('service unavailable') }).then(
        () => this.log.info({ drachtio: server.name, dialog: stackDialogId }, 'BYE sent on a dialog of a call ended while its server was lost'),
        (err: unknown) => this.log.debug({ err, dialog: stackDialogId }, 'dialog of a lost call is gone'),
      );
    }
  }
}
