/**
 * Writes gateway up/down changes to the outage log without ever holding up the SIP side: record() only queues (the
 * OPTIONS ping loop calls it; it never waits and never throws), and one background writer applies the queue in
 * order. While PostgreSQL is down the changes wait in memory, with the instants they were seen, and are written
 * when it is back (retried every retryMs). The queue is bounded: past `maxQueue` the oldest change is dropped and
 * logged (a gateway flapping for hours while PostgreSQL is down; its final state is what matters and is kept).
 */
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import type { GatewayChange } from '../sip/gateways.js';
import { applyGatewayChange } from '../store/outages.js';

interface OutageRecorder {
  record(change: GatewayChange): void;
  /** Resolves when everything queued so far is written (or the recorder is closed). */
  flush(): Promise<void>;
  pending(): number;
  /** Stop writing; what is still queued is logged and lost (the next up/down change of a gateway repairs the log). */
  close(): Promise<void>;
}

export function createOutageRecorder(opts: { pool: Pool; logger: Logger; instanceId: string; maxQueue?: number; retryMs?: number }): OutageRecorder {
  const log = opts.logger.child({ component: 'outage-log' });
  const maxQueue = opts.maxQueue ?? 1000;
  const retryMs = opts.retryMs ?? 5000;
  const queue: GatewayChange[] = [];
  let writing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let failing = false;
  const waiters: (() => void)[] = [];

  const settle = (): void => {
    if (queue.length === 0 || closed) for (const w of waiters.splice(0)) w();
  };

  async function drain(): Promise<void> {
    while (queue.length > 0 && !closed) {
      const c = queue[0]!;
      try {
        const r = await applyGatewayChange(opts.pool, c, opts.instanceId);
        if (failing) log.info({ pending: queue.length }, 'outage log writable again');
        failing = false;
        if (r !== 'unchanged') log.info({ gateway: c.gateway, up: c.up, at: c.at.toISOString() }, r === 'opened' ? 'gateway outage logged' : 'gateway outage ended');
        queue.shift();
      } catch (err) {
        if (!failing) log.warn({ err, pending: queue.length }, 'outage log not writable (PostgreSQL); changes kept in memory and retried');
        failing = true;
        timer = setTimeout(kick, retryMs);
        timer.unref();
        return;
      }
    }
    settle();
  }

  function kick(): void {
    timer = null;
    if (writing || closed) return;
    writing = drain().finally(() => {
      writing = null;
      if (queue.length > 0 && !timer && !closed) kick(); // recorded while the last write was finishing
    });
  }

  return {
    record(change) {
      if (closed) return;
      queue.push(change);
      if (queue.length > maxQueue) {
        const lost = queue.shift()!;
        log.error({ gateway: lost.gateway, up: lost.up, at: lost.at.toISOString(), maxQueue }, 'outage log queue full: oldest change dropped');
      }
      if (!timer) kick();
    },
    flush() {
      if (queue.length === 0 || closed) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    pending: () => queue.length,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await writing?.catch(() => undefined);
      if (queue.length) log.warn({ pending: queue.length }, 'outage log changes not written at shutdown');
      settle();
    },
  };
}
