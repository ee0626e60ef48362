/**
 * One e2e harness per test file: started before the file's tests, its sipps killed after each test, closed after the
 * file. The returned object forwards to the running harness (using it outside a test throws).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { killSipps, startHarness, type Harness } from './harness.js';

export function useHarness(...args: Parameters<typeof startHarness>): Harness {
  let running: Harness | undefined;
  beforeAll(async () => {
    running = await startHarness(...args);
  });
  afterEach(() => killSipps());
  afterAll(async () => {
    await running?.close();
  });
  return new Proxy({} as Harness, {
    get(_target, key) {
      if (!running) throw new Error('the e2e harness is not running (used outside a test of its file?)');
      const v = Reflect.get(running, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(running) : v;
    },
  });
}
