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

/** Up/down state from OPTIONS pings: down after `downAfter` consecutive failures, up again on one success. */
export class GatewayHealth {
  private readonly failures = new Map<string, number>();
  constructor(private readonly downAfter = 2) {}

  isUp(g: Pick<Gateway, 'name'>): boolean {
    return (this.failures.get(g.name) ?? 0) < this.downAfter;
  }

  /** Record a ping result; returns the new up state. Any SIP answer (even 4xx/5xx) proves the gateway alive. */
  record(name: string, answered: boolean): boolean {
    this.failures.set(name, answered ? 0 : (this.failures.get(name) ?? 0) + 1);
    return this.isUp({ name });
  }
}
