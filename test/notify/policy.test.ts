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

describe('e-mail and SMS failures, SMS body', () => {
  it('SMTP: 5xx permanent; 4xx and no reply passing; an AUTH command is not quoted', async () => {
    const { smtpFailure } = await import('../../src/notify/policy.js');
    expect(smtpFailure(Object.assign(new Error('Message failed: 550 no such user'), { responseCode: 550, code: 'EENVELOPE', command: 'RCPT TO' })))
      .toEqual({ error: 'SMTP EENVELOPE: Message failed: 550 no such user (after RCPT TO)', permanent: true });
    expect(smtpFailure(Object.assign(new Error('451 busy'), { responseCode: 451, code: 'EENVELOPE' })).permanent).toBe(false);
    expect(smtpFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ESOCKET' })).permanent).toBe(false);
    expect(smtpFailure(Object.assign(new Error('Invalid login: 535'), { responseCode: 535, code: 'EAUTH', command: 'AUTH PLAIN AHVzZXIAcHc=' })))
      .toEqual({ error: 'SMTP EAUTH: Invalid login: 535', permanent: true });
  });

  it('SMS provider: 2xx sent; 408, 429, 5xx passing; other 4xx permanent', async () => {
    const { smsStatusFailure } = await import('../../src/notify/policy.js');
    expect(smsStatusFailure(200, 'ok')).toBeNull();
    expect(smsStatusFailure(204, '')).toBeNull();
    expect([408, 429, 500, 503].map((s) => smsStatusFailure(s, '')!.permanent)).toEqual([false, false, false, false]);
    expect([400, 401, 403, 404, 422].map((s) => smsStatusFailure(s, '')!.permanent)).toEqual([true, true, true, true, true]);
    expect(smsStatusFailure(400, 'x'.repeat(300))!.error).toBe(`HTTP 400: ${'x'.repeat(200)}`);
  });

  it('SMS body: placeholders escaped for the content type', async () => {
    const { smsBody } = await import('../../src/notify/policy.js');
    const v = { phone: '+8613800138000', text: 'a "quoted"\nline & more=1' };
    expect(JSON.parse(smsBody('{"to":"{{phone}}","msg":"{{text}}","t":"{{text}}"}', 'application/json', v))).toEqual({ to: v.phone, msg: v.text, t: v.text });
    const f = new URLSearchParams(smsBody('to={{phone}}&msg={{text}}', 'application/x-www-form-urlencoded', v));
    expect([f.get('to'), f.get('msg')]).toEqual([v.phone, v.text]);
    expect(smsBody('{{other}} {{text}}', 'application/json', v)).toBe('{{other}} a \\"quoted\\"\\nline & more=1');
  });

  it('a permanent failure is failed at the first attempt', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(afterAttempt(0, 'SMTP 550', at, 8, true)).toEqual({ outcome: 'failed', attempts: 1, error: 'SMTP 550', sentAt: null, nextAttemptAt: null, failedAt: at });
    expect(afterAttempt(0, 'SMTP 451', at, 8, false).outcome).toBe('retry');
  });
});

describe('notice texts', () => {
  it('every kind the billing code queues has words in zh and en, with its amounts to the fen', async () => {
    const { renderNotice, cny } = await import('../../src/notify/messages.js');
    expect([cny('0'), cny('5'), cny('95167'), cny('123456789'), cny('-1050'), cny('x')]).toEqual(['0.00', '0.05', '951.67', '1,234,567.89', '-10.50', '?']);
    const payloads: Record<string, Record<string, unknown>> = {
      low_balance: { balanceFen: '100000', monthlyFeeFen: '95167', remainingMonths: 3, amountDueFen: '285501', topUpBy: '2026-10-15T16:00:00.000Z' },
      payment_overdue: { description: 'rent +8657188880001', outstandingFen: '35556', dueAt: '2026-03-05T16:00:00.000Z', suspendAfterDays: 15 },
      suspended: { overdueFen: '35556', payToReinstate: '35556' },
      resumed: { at: '2026-04-12T02:00:00.000Z' },
      renewal_reminder: { serviceEnd: '2027-01-05T02:00:00.000Z', agreeRenewalBy: '2026-12-29' },
      period_ended: { serviceEnd: '2027-01-05T02:00:00.000Z', owedFen: '0' },
      terminated: { orderNo: 'SO-1', contractValueFen: '1142000', earlyTerminationFeeFen: '342600', payBy: '2026-06-04T16:00:00.000Z', owedFen: '342600' },
      refund: { refundedFen: '700000', giftFenNotRefunded: '50000' },
    };
    const amounts: Record<string, string[]> = {
      low_balance: ['2,855.01', '951.67', '1,000.00'], payment_overdue: ['355.56'], suspended: ['355.56'], resumed: ['2026-04-12 10:00'],
      renewal_reminder: ['2026-12-29', '2027-01-05 10:00'], period_ended: ['0.00'], terminated: ['3,426.00', '11,420.00'], refund: ['7,000.00', '500.00'],
    };
    for (const [kind, payload] of Object.entries(payloads)) {
      for (const language of ['zh', 'en'] as const) {
        const n = renderNotice({ kind, tenantCode: 'demo', legalName: '杭州示范企业有限公司', payload, language, timeZone: 'Asia/Shanghai', notificationId: '7' });
        expect(n.subject).toMatch(language === 'en' ? /^\[demo\] [A-Z]/ : /^【demo】\p{Script=Han}/u);
        for (const a of amounts[kind]!) {
          expect(n.text).toContain(a);
          expect(n.sms).toContain(a);
        }
        expect(n.text).not.toContain('?');
        expect(n.sms).not.toContain('\n');
      }
    }
  });
});

describe('notice deadlines', () => {
  it('a deadline at midnight reads as 24:00 of the last day; other instants as they are', async () => {
    const { deadline, when } = await import('../../src/notify/messages.js');
    expect(deadline('2026-03-26T16:00:00.000Z', 'Asia/Shanghai')).toBe('2026-03-26 24:00');
    expect(deadline('2026-12-31T16:00:00.000Z', 'Asia/Shanghai')).toBe('2026-12-31 24:00');
    expect(deadline('2026-03-26T16:00:01.000Z', 'Asia/Shanghai')).toBe('2026-03-27 00:00');
    expect(when('2026-03-26T02:05:00.000Z', 'Asia/Shanghai')).toBe('2026-03-26 10:05');
    expect([deadline(null, 'Asia/Shanghai'), when('nope', 'Asia/Shanghai')]).toEqual(['?', '?']);
  });
});
