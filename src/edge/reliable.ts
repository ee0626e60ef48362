/**
 * RFC 3262 (reliable provisional responses) on the UAS side of the edge, as sofia's nta_reliable does it for
 * drachtio-server: a provisional response the app sends with `Require: 100rel` gets an RSeq (random start, then +1),
 * is retransmitted over UDP from T1, doubling up to T2, until the PRACK naming it arrives, and is given up after 64*T1
 * (the INVITE then gets 503 "Reliable Response Time-Out"). While one is un-PRACKed, the next reliable provisional
 * waits for that PRACK, and so does a 2xx when the un-PRACKed one carried SDP (the offer/answer must settle first);
 * any other final response stops the retransmissions and goes out at once.
 */
import { randomInt } from 'node:crypto';
import type { SipMessage } from './sip/message.js';
import { header } from './sip/message.js';
import type { SipTimers } from './timers.js';

type Timer = ReturnType<typeof setTimeout>;

/** The request offered reliable provisionals (Supported or Require: 100rel); sofia refuses to send them otherwise. */
export function offers100rel(req: SipMessage): boolean {
  return [header(req, 'supported'), header(req, 'require')].some((v) => (v ?? '').split(',').some((t) => t.trim().toLowerCase() === '100rel'));
}

/** `RAck: <rseq> <cseq> <method>` → numbers, or undefined when malformed. */
export function parseRack(v: string | undefined): { rseq: number; cseq: number; method: string } | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s+([A-Za-z]+)\s*$/.exec(v ?? '');
  return m ? { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3]!.toUpperCase() } : undefined;
}

export class ReliableUas {
  private nextRseq = randomInt(1, 2 ** 31);
  private unacked: { rseq: number; precious: boolean; timers: Timer[] } | null = null;
  /** Responses waiting for the PRACK of `unacked`, in the order the app sent them. */
  private readonly waiting: (() => void)[] = [];
  /** A final response is waiting (the app may not send another). */
  finalWaiting = false;

  constructor(
    private readonly t: SipTimers,
    private readonly udp: boolean,
    private readonly resend: (text: string) => void,
    /** No PRACK within 64*T1. */
    private readonly onTimeout: () => void,
  ) {}

  takeRseq(): number {
    return this.nextRseq++;
  }

  /** A reliable provisional: `emit` sends it now, or once the outstanding one is PRACKed. */
  provisional(rseq: number, text: string, precious: boolean, emit: () => void): void {
    const go = (): void => {
      emit();
      this.track(rseq, text, precious);
    };
    if (this.unacked) this.waiting.push(go);
    else go();
  }

  /** A final response: a 2xx waits while an un-PRACKed provisional with SDP is out; anything else goes now. */
  final(status: number, emit: () => void): 'sent' | 'waiting' {
    if (status < 300 && this.unacked?.precious) {
      this.finalWaiting = true;
      this.waiting.push(() => {
        this.finalWaiting = false;
        this.stop();
        emit();
      });
      return 'waiting';
    }
    this.stop();
    emit();
    return 'sent';
  }

  /** A PRACK naming `rseq` arrived. True when it acknowledges the outstanding provisional (whose retransmission stops). */
  prack(rseq: number): boolean {
    if (!this.unacked || this.unacked.rseq !== rseq) return false;
    this.clearTimers();
    this.unacked = null;
    while (!this.unacked && this.waiting.length > 0) this.waiting.shift()!();
    return true;
  }

  /** Stop retransmitting and forget what waits (a final response went out, the INVITE was cancelled). */
  stop(): void {
    this.clearTimers();
    this.unacked = null;
    this.waiting.length = 0;
    this.finalWaiting = false;
  }

  private track(rseq: number, text: string, precious: boolean): void {
    const u = { rseq, precious, timers: [] as Timer[] };
    this.unacked = u;
    const later = (ms: number, fn: () => void): void => {
      const timer = setTimeout(fn, ms);
      timer.unref?.();
      u.timers.push(timer);
    };
    if (this.udp) {
      const again = (interval: number): void => later(interval, () => {
        this.resend(text);
        again(Math.min(interval * 2, this.t.T2));
      });
      again(this.t.T1);
    }
    later(64 * this.t.T1, () => {
      this.stop();
      this.onTimeout();
    });
  }

  private clearTimers(): void {
    for (const timer of this.unacked?.timers ?? []) clearTimeout(timer);
  }
}
