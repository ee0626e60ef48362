/**
 * Sends the tenant notices that src/tenants/notices.ts writes as `notifications` rows (contract art. 2.2).
 * Each due row is taken in its own transaction with `for update skip locked`, so instances running this at the
 * same time never take the same row; the lock is held while the row is sent and released with its new state.
 * Delivery is at least once (a crash after the POST but before the commit sends again): the webhook gets the
 * notification id as `Idempotency-Key` to drop repeats. Per channel:
 * - webhook: POST JSON to the tenant's notify_webhook; 2xx = sent, anything else is retried with backoff, then failed;
 * - log: a warn line for the NOC (the tenant has no channel), marked sent;
 * - email, sms: no provider in this deployment: error on the row, left unsent for an operator.
 */
import type { Config } from '../config/config.js';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { metrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import { afterAttempt, noProvider, parseWebhookUrl, webhookBody, type Channel, type Outcome, type RowUpdate } from './policy.js';

export interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  fetchImpl?: typeof fetch;
  now?: () => Date;
  config: { notify: Config['notify'] };
  /** most rows handled by one call (one maintenance round), so a large backlog cannot stall the round */
  limit?: number;
  /** rows sent at the same time (each holds a pool connection while it is sent); default 4 */
  concurrency?: number;
}

export type DeliveryResult = Record<Outcome, number>;

interface DueRow {
  id: bigint;
  kind: string;
  channel: Channel;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  code: string;
  notify_webhook: string | null;
}

export async function deliverPending(deps: DeliveryDeps): Promise<DeliveryResult> {
  const now = deps.now ?? (() => new Date());
  const limit = deps.limit ?? 500;
  const result: DeliveryResult = { sent: 0, retry: 0, failed: 0, no_provider: 0 };
  let taken = 0;
  // a few rows at a time, so one unreachable webhook (up to webhookTimeoutMs per row) does not hold up the others
  const worker = async (): Promise<void> => {
    while (taken < limit) {
      taken += 1;
      const done = await withTransaction(deps.pool, (c) => takeAndDeliver(c, now(), deps));
      if (!done) return;
      result[done.outcome] += 1;
      metrics.notificationsTotal.inc(done);
    }
  };
  await Promise.all(Array.from({ length: deps.concurrency ?? 4 }, worker));
  return result;
}

/** Lock one due row (skipping rows other senders hold), deliver it, store its new state; null when none is due. */
async function takeAndDeliver(c: PoolClient, at: Date, deps: DeliveryDeps): Promise<{ channel: Channel; outcome: Outcome } | null> {
  const row = (await c.query<DueRow>(
    `select n.id, n.kind, n.channel, n.payload, n.attempts, n.created_at, t.code, t.notify_webhook
       from notifications n join tenants t on t.id = n.tenant_id
      where n.sent_at is null and n.next_attempt_at <= $1
      order by n.next_attempt_at, n.id
      limit 1
      for update of n skip locked`,
    [at],
  )).rows[0];
  if (!row) return null;
  const u = await deliverOne(row, at, deps);
  await c.query(
    'update notifications set attempts = $2, error = $3, sent_at = $4, next_attempt_at = $5, failed_at = $6 where id = $1',
    [row.id.toString(), u.attempts, u.error, u.sentAt, u.nextAttemptAt, u.failedAt],
  );
  return { channel: row.channel, outcome: u.outcome };
}

async function deliverOne(row: DueRow, at: Date, deps: DeliveryDeps): Promise<RowUpdate> {
  const log = deps.logger.child({ notificationId: row.id.toString(), tenant: row.code, kind: row.kind, channel: row.channel });
  const max = deps.config.notify.maxAttempts;
  switch (row.channel) {
    case 'email':
    case 'sms': {
      const u = noProvider(row.channel, row.attempts);
      log.warn({ to: row.payload.to }, `tenant notice not sent: ${u.error}; an operator must deliver it`);
      return u;
    }
    case 'log':
      log.warn({ payload: row.payload }, 'tenant notice (the tenant has no e-mail, SMS or webhook configured)');
      return afterAttempt(row.attempts, null, at, max);
    case 'webhook': {
      const target = parseWebhookUrl(row.notify_webhook);
      const error = 'error' in target
        ? target.error
        : await postWebhook(deps.fetchImpl ?? fetch, target.url, webhookBody({
          id: row.id, tenantCode: row.code, kind: row.kind, createdAt: row.created_at, payload: row.payload,
        }), row.id.toString(), deps.config.notify.webhookTimeoutMs);
      const u = afterAttempt(row.attempts, error, at, max);
      if (u.outcome === 'sent') log.info({ attempts: u.attempts }, 'tenant notice delivered by webhook');
      else if (u.outcome === 'retry') log.info({ attempts: u.attempts, error: u.error, nextAttemptAt: u.nextAttemptAt }, 'webhook delivery failed; will retry');
      else log.warn({ attempts: u.attempts, error: u.error }, 'webhook delivery failed for good; notice marked failed');
      return u;
    }
  }
}

/** POST the body; null when the receiver answered 2xx, else the error text for the row. */
async function postWebhook(fetchImpl: typeof fetch, url: URL, body: string, idempotencyKey: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body,
      redirect: 'manual', // a redirect is an answer of the receiver's to fix, not a reason to POST elsewhere
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) return null;
    return `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  } catch (e) {
    const err = e as Error & { cause?: { message?: string } };
    if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
    return `request failed: ${err.cause?.message ?? err.message}`;
  }
}
