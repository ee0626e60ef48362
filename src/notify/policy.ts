/**
 * Pure rules of delivering tenant notices (no I/O): which webhook URLs are acceptable, the retry schedule, the
 * webhook body, and the row state after an attempt. src/notify/notifier.ts does the sending (its SQL: src/store/notices.ts).
 */

export type Channel = 'email' | 'sms' | 'webhook' | 'log';
export type Outcome = 'sent' | 'retry' | 'failed' | 'no_provider';

const RETRY_BASE_MS = 60_000;
export const RETRY_MAX_MS = 6 * 3_600_000;
const MAX_ERROR_CHARS = 500;

/** Wait after the n-th failed attempt (n ≥ 1): 1 min, 2 min, 4 min, ... at most 6 h. */
export function retryDelayMs(failedAttempts: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.max(0, failedAttempts - 1), RETRY_MAX_MS);
}

/** The tenant's webhook URL, or why it cannot be used (only absolute http/https URLs are posted to). */
export function parseWebhookUrl(raw: string | null): { url: URL } | { error: string } {
  if (!raw) return { error: 'tenant has no notify_webhook URL' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: `bad webhook URL ${JSON.stringify(raw.slice(0, 200))}: not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: `bad webhook URL ${JSON.stringify(raw.slice(0, 200))}: only http and https are allowed` };
  }
  return { url };
}

/** JSON posted to the webhook: the notice's own fields, then ours (which win on a name clash). */
export function webhookBody(n: { id: bigint; tenantCode: string; kind: string; createdAt: Date; payload: Record<string, unknown> }): string {
  return JSON.stringify({ ...n.payload, notificationId: n.id.toString(), tenant: n.tenantCode, kind: n.kind, createdAt: n.createdAt.toISOString() });
}

/** Row columns after an attempt. */
export interface RowUpdate {
  outcome: Outcome;
  attempts: number;
  error: string | null;
  sentAt: Date | null;
  nextAttemptAt: Date | null;
  failedAt: Date | null;
}

/**
 * State after one delivery attempt: error null = delivered. Failing attempts back off until maxAttempts; a permanent
 * failure (SMTP 5xx, SMS provider 4xx: asking again gets the same answer) is marked failed at once.
 */
export function afterAttempt(prevAttempts: number, error: string | null, at: Date, maxAttempts: number, permanent = false): RowUpdate {
  const attempts = prevAttempts + 1;
  if (error === null) return { outcome: 'sent', attempts, error: null, sentAt: at, nextAttemptAt: null, failedAt: null };
  const e = error.slice(0, MAX_ERROR_CHARS);
  if (permanent || attempts >= maxAttempts) return { outcome: 'failed', attempts, error: e, sentAt: null, nextAttemptAt: null, failedAt: at };
  return { outcome: 'retry', attempts, error: e, sentAt: null, nextAttemptAt: new Date(at.getTime() + retryDelayMs(attempts)), failedAt: null };
}

/** An attempt's failure: the text kept on the row and whether trying again can help. */
export interface Failure {
  error: string;
  permanent: boolean;
}

/**
 * What a nodemailer error means (RFC 5321 §4.2.1): a 5xx reply is permanent (the server refuses this message or our
 * login), a 4xx reply and every failure without a reply (refused connection, timeout, TLS failure, dropped
 * connection) are passing and retried.
 */
export function smtpFailure(e: unknown): Failure {
  const err = e as { responseCode?: unknown; code?: unknown; message?: unknown; command?: unknown };
  const status = typeof err.responseCode === 'number' ? err.responseCode : null;
  const message = typeof err.message === 'string' ? err.message : String(e);
  const code = typeof err.code === 'string' ? `${err.code}: ` : '';
  const command = typeof err.command === 'string' && !/^AUTH/i.test(err.command) ? ` (after ${err.command.slice(0, 40)})` : '';
  return { error: `SMTP ${code}${message}${command}`, permanent: status !== null && status >= 500 && status < 600 };
}

/** SMS provider answer: 2xx sent; 408, 429 and 5xx passing; other 4xx (bad number, bad request) permanent. */
export function smsStatusFailure(status: number, text: string): Failure | null {
  if (status >= 200 && status < 300) return null;
  const error = `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  return { error, permanent: status >= 400 && status < 500 && status !== 408 && status !== 429 };
}

/**
 * The SMS provider request body: SMS_TEMPLATE with {{phone}} and {{text}} replaced, escaped for the content type
 * (inside a JSON string: JSON-escaped without the quotes; form: URL-encoded), so notice text can never break out.
 */
export function smsBody(template: string, contentType: string, values: { phone: string; text: string }): string {
  const esc = contentType === 'application/json' ? (v: string) => JSON.stringify(v).slice(1, -1) : encodeURIComponent;
  return template.replace(/\{\{(phone|text)\}\}/g, (_m, k: 'phone' | 'text') => esc(values[k]));
}

/** E-mail or SMS without a provider configured (SMTP_HOST, SMS_PROVIDER_URL empty): the row stays unsent, parked
 * for an operator. */
export function noProvider(channel: 'email' | 'sms', prevAttempts: number): RowUpdate {
  return { outcome: 'no_provider', attempts: prevAttempts, error: `no ${channel} provider configured`, sentAt: null, nextAttemptAt: null, failedAt: null };
}
