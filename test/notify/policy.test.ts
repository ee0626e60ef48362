import { describe, expect, it } from 'vitest';
import { afterAttempt, noProvider, parseWebhookUrl, retryDelayMs, RETRY_MAX_MS, webhookBody } from '../../src/notify/policy.js';

describe('notice delivery rules', () => {
  it('backoff doubles from 1 min and stops growing at 6 h', () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([60_000, 120_000, 240_000, 480_000, 960_000]);
    expect(retryDelayMs(9)).toBe(256 * 60_000);
    expect(retryDelayMs(10)).toBe(RETRY_MAX_MS);
    expect(retryDelayMs(1000)).toBe(RETRY_MAX_MS);
  });

  it('only absolute http and https URLs are webhook targets', () => {
    expect(parseWebhookUrl('https://hooks.example.com/n?x=1')).toEqual({ url: new URL('https://hooks.example.com/n?x=1') });
    expect(parseWebhookUrl('http://10.0.0.5:8080/')).toHaveProperty('url');
    for (const bad of ['ftp://x/y', 'file:///etc/passwd', 'javascript:alert(1)', 'mailto:a@b.c']) {
      expect(parseWebhookUrl(bad)).toEqual({ error: expect.stringMatching(/only http and https/) });
    }
    for (const bad of ['not a url', '/relative/path', 'http://[::1']) expect(parseWebhookUrl(bad)).toEqual({ error: expect.stringMatching(/not a URL/) });
    expect(parseWebhookUrl(null)).toEqual({ error: 'tenant has no notify_webhook URL' });
    expect(parseWebhookUrl('')).toEqual({ error: 'tenant has no notify_webhook URL' });
  });

  it('the body carries the notice fields; id, tenant, kind and time cannot be overridden by the payload', () => {
    const body = JSON.parse(webhookBody({
      id: 42n, tenantCode: 'acme', kind: 'low_balance', createdAt: new Date('2026-11-24T08:00:00Z'),
      payload: { amountDueFen: '42000', tenant: 'spoof', notificationId: '1' },
    })) as unknown;
    expect(body).toEqual({ amountDueFen: '42000', tenant: 'acme', notificationId: '42', kind: 'low_balance', createdAt: '2026-11-24T08:00:00.000Z' });
  });

  it('after an attempt: sent, retry with backoff, failed at maxAttempts; long errors are cut', () => {
    const at = new Date('2026-11-24T08:00:00Z');
    expect(afterAttempt(0, null, at, 3)).toEqual({ outcome: 'sent', attempts: 1, error: null, sentAt: at, nextAttemptAt: null, failedAt: null });
    expect(afterAttempt(1, 'HTTP 500', at, 3)).toEqual({
      outcome: 'retry', attempts: 2, error: 'HTTP 500', sentAt: null, nextAttemptAt: new Date(at.getTime() + 120_000), failedAt: null,
    });
    expect(afterAttempt(2, 'HTTP 500', at, 3)).toEqual({ outcome: 'failed', attempts: 3, error: 'HTTP 500', sentAt: null, nextAttemptAt: null, failedAt: at });
    expect(afterAttempt(0, 'x', at, 1).outcome).toBe('failed');
    expect(afterAttempt(0, 'e'.repeat(2000), at, 3).error).toHaveLength(500);
  });

  it('email and sms without a provider: error, no attempt counted, nothing planned', () => {
    expect(noProvider('email', 0)).toEqual({ outcome: 'no_provider', attempts: 0, error: 'no email provider configured', sentAt: null, nextAttemptAt: null, failedAt: null });
    expect(noProvider('sms', 2).error).toBe('no sms provider configured');
  });
});
