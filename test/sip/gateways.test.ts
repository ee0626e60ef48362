import { describe, expect, it } from 'vitest';
import { GatewayHealth, orderGateways } from '../../src/sip/gateways.js';
import type { Gateway } from '../../src/sip/directory.js';

const g = (name: string, priority: number, weight: number): Gateway => ({
  id: name, name, host: '10.0.0.1', port: 5060, transport: 'udp', priority, weight, numberFormat: 'national',
});

describe('orderGateways', () => {
  it('lower priority first, whatever the weights', () => {
    const list = [g('b', 20, 10000), g('a', 10, 1)];
    expect(orderGateways(list, () => true).map((x) => x.name)).toEqual(['a', 'b']);
  });
  it('weighted random inside a priority: first-choice share follows weight (seeded draws)', () => {
    const list = [g('heavy', 10, 300), g('light', 10, 100)];
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    let heavyFirst = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (orderGateways(list, () => true, rnd)[0]!.name === 'heavy') heavyFirst++;
    expect(heavyFirst / n).toBeGreaterThan(0.7);
    expect(heavyFirst / n).toBeLessThan(0.8);
  });
  it('exact draw boundaries', () => {
    const list = [g('a', 10, 1), g('b', 10, 3)];
    expect(orderGateways(list, () => true, () => 0).map((x) => x.name)).toEqual(['a', 'b']);
    expect(orderGateways(list, () => true, () => 0.25).map((x) => x.name)).toEqual(['b', 'a']);
  });
  it('down gateways go last but are kept', () => {
    const list = [g('a', 10, 100), g('b', 20, 100)];
    expect(orderGateways(list, (x) => x.name !== 'a').map((x) => x.name)).toEqual(['b', 'a']);
  });
  it('every gateway appears exactly once', () => {
    const list = [g('a', 1, 5), g('b', 1, 7), g('c', 2, 1), g('d', 1, 1)];
    expect(orderGateways(list, () => true).map((x) => x.name).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('GatewayHealth', () => {
  it('down after 2 consecutive failures, up on one answer', () => {
    const h = new GatewayHealth(2);
    expect(h.isUp({ name: 'x' })).toBe(true);
    expect(h.record('x', false)).toBe(true);
    expect(h.record('x', false)).toBe(false);
    expect(h.record('x', true)).toBe(true);
  });
});
