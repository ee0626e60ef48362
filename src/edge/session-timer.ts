/**
 * RFC 4028 session timers in the edge, kept as drachtio-server keeps them (SipDialog::setSessionTimer,
 * doSessionTimerHandling, checked against 0.9.4): per dialog, armed when a 2xx to an INVITE we sent, an in-dialog
 * INVITE/UPDATE from the peer, or the app's 2xx to an INVITE it answers carries Session-Expires (at least 90 s).
 * - We refresh: at half the interval the edge sends a re-INVITE with the dialog's last local SDP by itself (the app
 *   is not involved), and arms again from its 2xx.
 * - They refresh: if no refresh came within the interval, the edge sends BYE (Reason "Session timer expired") and
 *   tells the app with an unsolicited BYE.
 * A re-INVITE/UPDATE from the peer without Session-Expires switches the timer off, as in drachtio-server.
 * Timers belong to the dialog: when the app that owns it disconnects, the edge ends its dialogs (outbound.ts onAppGone), so
 * nothing of a dead app is ever refreshed.
 */
import type { Dialog } from './dialogs.js';

export const MIN_SE = 90;

export interface SessionExpires {
  seconds: number;
  refresher?: 'uac' | 'uas';
}

export function parseSessionExpires(v: string | undefined): SessionExpires | undefined {
  const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(v ?? '');
  if (!m) return undefined;
  const r = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '')?.[1]?.toLowerCase() as 'uac' | 'uas' | undefined;
  return { seconds: Number(m[1]), ...(r ? { refresher: r } : {}) };
}

export interface SessionTimerHost {
  /** Send the refreshing re-INVITE in d (we are the refresher). */
  refresh(d: Dialog, seconds: number): void;
  /** The peer did not refresh in time: BYE it and tell the app. */
  expire(d: Dialog): void;
}

export class SessionTimers {
  constructor(
    private readonly host: SessionTimerHost,
    /** Length of one Session-Expires second in ms (1000; tests shrink it as they shrink T1). */
    private readonly secondMs = 1000,
  ) {}

  /** Arm (or re-arm) d's timer: `weRefresh` = this side sends the refreshes. */
  arm(d: Dialog, seconds: number, weRefresh: boolean): void {
    this.disarm(d);
    const s = Math.max(MIN_SE, seconds);
    const ms = (weRefresh ? s / 2 : s) * this.secondMs;
    const timer = setTimeout(() => {
      if (d.sessionTimer?.timer !== timer) return;
      d.sessionTimer = undefined;
      if (weRefresh) this.host.refresh(d, s);
      else this.host.expire(d);
    }, ms);
    timer.unref?.();
    d.sessionTimer = { timer, seconds: s, weRefresh };
  }

  disarm(d: Dialog): void {
    if (d.sessionTimer) clearTimeout(d.sessionTimer.timer);
    d.sessionTimer = undefined;
  }

  /**
   * A Session-Expires on a message that (re)sets the timer. `senderIsUac`: whether the side that sent the *request*
   * of this transaction is the peer (their INVITE/UPDATE, or our 2xx to it) — refresher=uac then means they refresh.
   * No header: the timer stops.
   */
  fromHeader(d: Dialog, value: string | undefined, requestFromPeer: boolean): void {
    const se = parseSessionExpires(value);
    if (!se) {
      this.disarm(d);
      return;
    }
    const uacRefreshes = se.refresher !== 'uas'; // no refresher: the UAC of the transaction (drachtio-server's rule)
    this.arm(d, se.seconds, requestFromPeer ? !uacRefreshes : uacRefreshes);
  }
}
