/**
 * The book of this instance's live calls, across every SIP server it takes calls from: what drain, close, operator
 * cuts, lease renewal, metrics and the lost-server handling see.
 *
 * Invariants:
 * - a session is in the book from the moment it passed the door until its one end path has run (CallSession's
 *   onEnded = ended), and its context exactly as long (serverDown finds a lost server's calls through it);
 * - a cut is asked of each live session at most once per cutWhere, and counted once;
 * - untilIdle resolves when the book is empty or at the deadline, whichever comes first.
 */
import { metrics } from '../observability/metrics.js';
import type { CallContext } from './call-context.js';
import type { CallSession, EndCause } from './call-session.js';

export class CallBook {
  readonly sessions = new Map<string, CallSession>();
  /** callId → its INVITE's context (server, lost flag, dialog ids) */
  readonly contexts = new Map<string, CallContext>();
  private idle: (() => void) | null = null;

  /** CallSession's onEnded: one function for every session of the book. */
  readonly ended = (s: CallSession): void => {
    this.sessions.delete(s.callId);
    this.contexts.delete(s.callId);
    if (this.sessions.size === 0 && this.idle) this.idle();
  };

  get size(): number {
    return this.sessions.size;
  }

  has(callId: string): boolean {
    return this.sessions.has(callId);
  }

  add(ctx: CallContext, session: CallSession): void {
    this.sessions.set(session.callId, session);
    this.contexts.set(session.callId, ctx);
  }

  /** Calls with both legs up. */
  answeredCount(): number {
    return [...this.sessions.values()].filter((x) => x.answered && !x.ended).length;
  }

  byACallId(aCallId: string | undefined): CallSession | undefined {
    return [...this.sessions.values()].find((x) => x.facts.aCallId === aCallId);
  }

  /** The live calls whose tenant is known: their limits slots' leases to renew. */
  leases(): { tenantId: string; callId: string }[] {
    return [...this.sessions.values()].filter((s) => s.tenantId !== null).map((s) => ({ tenantId: s.tenantId!, callId: s.callId }));
  }

  async cutWhere(pred: (s: CallSession) => boolean, cause: EndCause, metricCause: string): Promise<number> {
    const victims = [...this.sessions.values()].filter((s) => !s.ended && pred(s));
    for (const _ of victims) metrics.operatorCutsTotal.inc({ cause: metricCause });
    await Promise.all(victims.map((s) => s.cut(cause)));
    return victims.length;
  }

  /** Until every call has ended or deadlineMs (epoch ms), whichever comes first. */
  async untilIdle(deadlineMs: number): Promise<void> {
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()));
        this.idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.idle = null;
  }

  /** Wait until every session has settled (calls cut before answer finish when their B leg's CANCEL completes). */
  async settled(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.sessions.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}
