/**
 * Sends the tenant notices that src/tenants/notices.ts writes as `notifications` rows (contract art. 2.2).
 * Each due row is taken in its own transaction with `for update skip locked`, so instances running this at the
 * same time never take the same row; the lock is held while the row is sent and released with its new state.
 * Delivery is at least once (a crash after the POST but before the commit sends again): the webhook gets the
 * notification id as `Idempotency-Key` to drop repeats. Per channel:
 * - webhook: POST JSON to the tenant's notify_webhook, only to a public address (resolved once, checked, connected to
 *   as checked: src/notify/webhook-target.ts); 2xx = sent, anything else is retried with backoff, then failed; the
 *   row keeps the status code or a fixed reason, never the receiver's answer;
 * - email: through the SMTP server of the config (nodemailer) to the address(es) on the row, subject and text in the
 *   tenant's language (src/notify/messages.ts); a 5xx reply fails the row at once, a 4xx reply or no reply (refused,
 *   timeout) is retried with the webhook's backoff;
 * - sms: one request to the configured HTTP provider (method, secret headers, body template with {{phone}} and
 *   {{text}}); 2xx = sent; 5xx, 408, 429, timeouts and refused connections retried; other 4xx fail at once;
 * - log: a warn line for the NOC (the tenant has no channel), marked sent;
 * - email or sms with no provider configured (SMTP_HOST / SMS_PROVIDER_URL empty): error on the row, left unsent
 *   for an operator.
 * Secrets (SMTP password, SMS headers) are never logged: nodemailer's own logger is off, and errors carry only the
 * server's reply.
 */
import { createTransport, type Transporter } from 'nodemailer';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config/config.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import { metrics } from '../observability/metrics.js';
import { takeDueNotice, updateNoticeDelivery, type DueNotice } from '../store/notices.js';
import type { Logger } from '../util/logger.js';
import { renderNotice } from './messages.js';
import { postWebhook } from './webhook.js';
import { systemResolver, webhookTarget, type HostResolver } from './webhook-target.js';
import { afterAttempt, noProvider, parseWebhookUrl, smsBody, smsStatusFailure, smtpFailure, webhookBody, type Channel, type Failure, type Outcome, type RowUpdate } from './policy.js';

interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  fetchImpl?: typeof fetch;
  now?: () => Date;
  config: { notify: Config['notify']; service: Config['service'] };
  /** extra TLS options of the SMTP connection (tests: the CA of their own server's certificate) */
  smtpTls?: ConnectionOptions;
  /** how webhook host names are resolved (default the system resolver; tests answer chosen addresses) */
  resolveHost?: HostResolver;
  /** most rows handled by one call (one maintenance round), so a large backlog cannot stall the round */
  limit?: number;
  /** rows sent at the same time (each holds a pool connection while it is sent); default 4 */
  concurrency?: number;
}

type DeliveryResult = Record<Outcome, number>;

/** nodemailer transport of one deliverPending call (created at the first e-mail, closed at the end). */
type MailerRef = { get(): Transporter };

function mailer(deps: DeliveryDeps): MailerRef & { close(): void } {
  let t: Transporter | null = null;
  const n = deps.config.notify;
  return {
    get() {
      t ??= createTransport({
        host: n.smtpHost, port: n.smtpPort,
        secure: n.smtpSecurity === 'tls', requireTLS: n.smtpSecurity === 'starttls', ignoreTLS: n.smtpSecurity === 'none',
        ...(n.smtpUser ? { auth: { user: n.smtpUser, pass: n.smtpPassword } } : {}),
        connectionTimeout: n.webhookTimeoutMs, greetingTimeout: n.webhookTimeoutMs, socketTimeout: n.webhookTimeoutMs,
        logger: false, debug: false, // nodemailer's protocol log would show the AUTH exchange
        ...(deps.smtpTls ? { tls: deps.smtpTls } : {}),
      });
      return t;
    },
    close() {
      t?.close();
    },
  };
}

export async function deliverPending(deps: DeliveryDeps): Promise<DeliveryResult> {
  const now = deps.now ?? (() => new Date());
  const limit = deps.limit ?? 500;
  const result: DeliveryResult = { sent: 0, retry: 0, failed: 0, no_provider: 0 };
  let taken = 0;
  const mail = mailer(deps);
  // a few rows at a time, so one unreachable webhook (up to webhookTimeoutMs per row) does not hold up the others
  const worker = async (): Promise<void> => {
    while (taken < limit) {
      taken += 1;
      const done = await withTransaction(deps.pool, (c) => takeAndDeliver(c, now(), deps, mail));
      if (!done) return;
      result[done.outcome] += 1;
      metrics.notificationsTotal.inc(done);
    }
  };
  try {
    await Promise.all(Array.from({ length: deps.concurrency ?? 4 }, worker));
  } finally {
    mail.close();
  }
  return result;
}

/** Lock one due row (skipping rows other senders hold), deliver it, store its new state; null when none is due. */
async function takeAndDeliver(c: PoolClient, at: Date, deps: DeliveryDeps, mail: MailerRef): Promise<{ channel: Channel; outcome: Outcome } | null> {
  const row = await takeDueNotice(c, at);
  if (!row) return null;
  const u = await deliverOne(row, at, deps, mail);
  await updateNoticeDelivery(c, row.id, u);
  return { channel: row.channel, outcome: u.outcome };
}

async function deliverOne(row: DueNotice, at: Date, deps: DeliveryDeps, mail: MailerRef): Promise<RowUpdate> {
  const log = deps.logger.child({ notificationId: row.id.toString(), tenant: row.tenantCode, kind: row.kind, channel: row.channel });
  const n = deps.config.notify;
  const max = n.maxAttempts;
  switch (row.channel) {
    case 'email':
    case 'sms': {
      const to = typeof row.payload.to === 'string' ? row.payload.to : '';
      if ((row.channel === 'email' ? n.smtpHost : n.smsUrl) === '') {
        const u = noProvider(row.channel, row.attempts);
        log.warn({ to }, `tenant notice not sent: ${u.error}; an operator must deliver it`);
        return u;
      }
      const words = renderNotice({
        kind: row.kind, tenantCode: row.tenantCode, legalName: row.legalName, payload: row.payload, language: row.language,
        timeZone: deps.config.service.timezone, notificationId: row.id.toString(),
      });
      const failure = !to
        ? { error: `no ${row.channel === 'email' ? 'e-mail address' : 'phone number'} on the notice`, permanent: true }
        : row.channel === 'email'
          ? await sendMail(mail.get(), { from: n.mailFrom, to, subject: words.subject, text: words.text, id: row.id.toString() }, log)
          : await sendSms(deps.fetchImpl ?? fetch, n, to, words.sms, row.id.toString());
      const u = afterAttempt(row.attempts, failure?.error ?? null, at, max, failure?.permanent ?? false);
      const via = row.channel === 'email' ? 'e-mail' : 'SMS';
      if (u.outcome === 'sent') log.info({ attempts: u.attempts, to }, `tenant notice delivered by ${via}`);
      else if (u.outcome === 'retry') log.info({ attempts: u.attempts, error: u.error, nextAttemptAt: u.nextAttemptAt }, `${via} delivery failed; will retry`);
      else log.warn({ attempts: u.attempts, error: u.error, permanent: failure?.permanent ?? false }, `${via} delivery failed for good; notice marked failed`);
      return u;
    }
    case 'log':
      log.warn({ payload: row.payload }, 'tenant notice (the tenant has no e-mail, SMS or webhook configured)');
      return afterAttempt(row.attempts, null, at, max);
    case 'webhook': {
      const { error, permanent } = await deliverWebhook(row, deps);
      const u = afterAttempt(row.attempts, error, at, max, permanent);
      if (u.outcome === 'sent') log.info({ attempts: u.attempts }, 'tenant notice delivered by webhook');
      else if (u.outcome === 'retry') log.info({ attempts: u.attempts, error: u.error, nextAttemptAt: u.nextAttemptAt }, 'webhook delivery failed; will retry');
      else log.warn({ attempts: u.attempts, error: u.error }, 'webhook delivery failed for good; notice marked failed');
      return u;
    }
  }
}

/**
 * The tenant's webhook: its host resolved once and checked (src/notify/webhook-target.ts), then the POST to that
 * address. A host that is no public address fails the row at once (asking again gets the same answer).
 */
async function deliverWebhook(row: DueNotice, deps: DeliveryDeps): Promise<{ error: string | null; permanent: boolean }> {
  const parsed = parseWebhookUrl(row.notifyWebhook);
  if ('error' in parsed) return { error: parsed.error, permanent: false };
  const target = await webhookTarget(parsed.url, deps.config.notify.webhookAllowCidrs, deps.resolveHost ?? systemResolver);
  if (!target.ok) {
    return target.why === 'refused'
      ? { error: 'webhook host is not a public address (refused)', permanent: true }
      : { error: 'webhook host does not resolve', permanent: false };
  }
  const body = webhookBody({ id: row.id, tenantCode: row.tenantCode, kind: row.kind, createdAt: row.createdAt, payload: row.payload });
  return { error: await postWebhook(parsed.url, target, body, row.id.toString(), deps.config.notify.webhookTimeoutMs), permanent: false };
}

/**
 * Send one e-mail; null when the server accepted it. When it refuses only some of the tenant's addresses the message
 * went to the others: it counts as sent (sending again would repeat it to them) and the refused ones are logged.
 */
async function sendMail(t: Transporter, m: { from: string; to: string; subject: string; text: string; id: string }, log: Logger): Promise<Failure | null> {
  try {
    const info = await t.sendMail({
      from: m.from, to: m.to, subject: m.subject, text: m.text,
      // the same notice sent again (a crash before the commit) carries the same Message-ID, so mail clients drop it
      messageId: `<notice-${m.id}@${m.from.split('@')[1]}>`,
      headers: { 'X-Notice-Id': m.id },
    }) as { rejected?: unknown[] };
    if (info.rejected && info.rejected.length > 0) log.warn({ refused: info.rejected.map(String) }, 'SMTP server refused some of the tenant\'s addresses; sent to the others');
    return null;
  } catch (e) {
    return smtpFailure(e);
  }
}

/** One request to the SMS provider; null when it answered 2xx. */
async function sendSms(fetchImpl: typeof fetch, n: Config['notify'], phone: string, text: string, idempotencyKey: string): Promise<Failure | null> {
  const extra = n.smsHeaders ? JSON.parse(n.smsHeaders) as Record<string, string> : {};
  try {
    const res = await fetchImpl(n.smsUrl, {
      method: n.smsMethod,
      headers: { 'content-type': n.smsContentType, 'idempotency-key': idempotencyKey, ...extra },
      body: smsBody(n.smsTemplate, n.smsContentType, { phone, text }),
      redirect: 'manual',
      signal: AbortSignal.timeout(n.webhookTimeoutMs),
    });
    const body = await res.text().catch(() => '');
    return smsStatusFailure(res.status, body);
  } catch (e) {
    const err = e as Error & { cause?: { message?: string } };
    if (err.name === 'TimeoutError') return { error: `no answer within ${n.webhookTimeoutMs} ms`, permanent: false };
    return { error: `request failed: ${err.cause?.message ?? err.message}`, permanent: false };
  }
}
