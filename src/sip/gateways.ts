/**
 * Carrier gateway choice: lower priority first; inside one priority a weighted random order (each draw picks
 * gateway g with probability weight(g)/sum of the weights left). Gateways that failed their OPTIONS pings go
 * last, still tried when nothing else is left (a ping can be lost; a call attempt is the better probe).
 */
import type { Gateway } from './directory.js';

export function orderGateways(list: readonly Gateway[], isUp: (g: Gateway) => boolean, random: () => number = Math.random): Gateway[] {
  const byPriority = new Map<number, Gateway[]>();
  for (const g of list) byPriority.set(g.priority, [...(byPriority.get(g.priority) ?? []), g]);
  const ordered: Gateway[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    const left = [...byPriority.get(p)!];
    while (left.length) {
      const total = left.reduce((s, g) => s + g.weight, 0);
      let x = random() * total;
      let i = 0;
      while (i < left.length - 1 && x >= left[i]!.weight) {
        x -= left[i]!.weight;
        i++;
      }
      ordered.push(left.splice(i, 1)[0]!);
    }
  }
  return [...ordered.filter(isUp), ...ordered.filter((g) => !isUp(g))];
}

/** A gateway's state as established by its pings, at the instant it changed (the outage log records these). */
export interface GatewayChange {
  gateway: string;
  up: boolean;
  /** down: the first failed ping of the run that took it down; up: the ping that answered */
  at: Date;
}

/**
 * Up/down state from OPTIONS pings: down after `downAfter` consecutive failures, up again on one success. Each
 * established state that differs from the last one reported goes to `onChange`: a gateway's first answer, or its
 * going down, after start-up too (an outage that spans a restart stays one open period in the log).
 */
export class GatewayHealth {
  private readonly failures = new Map<string, number>();
  private readonly firstFailureAt = new Map<string, number>();
  private readonly reported = new Map<string, boolean>();
  constructor(private readonly downAfter = 2, private readonly onChange?: (c: GatewayChange) => void) {}

  isUp(g: Pick<Gateway, 'name'>): boolean {
    return (this.failures.get(g.name) ?? 0) < this.downAfter;
  }

  /** Record a ping result; returns the new up state. Any SIP answer (even 4xx/5xx) proves the gateway alive. */
  record(name: string, answered: boolean, atMs = Date.now()): boolean {
    const n = answered ? 0 : (this.failures.get(name) ?? 0) + 1;
    if (n === 1) this.firstFailureAt.set(name, atMs);
    this.failures.set(name, n);
    const up = this.isUp({ name });
    // "up" is only established by an answer (a first failed ping leaves a gateway up but proves nothing)
    if (this.reported.get(name) !== up && (answered || !up)) {
      this.reported.set(name, up);
      this.onChange?.({ gateway: name, up, at: new Date(up ? atMs : this.firstFailureAt.get(name) ?? atMs) });
    }
    return up;
  }
}
