/** Tenants: who am I, list/create, notice settings, announcements, limits, rate plan, suspend/resume/terminate, balance, bills, CDRs, live calls. */
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { setTenantAnnouncements } from '../../services/announcements.js';
import { tenantBalance } from '../../services/balance.js';
import { monthlyBill } from '../../services/bills.js';
import { cutCalls, liveCalls } from '../../services/calls.js';
import { CDR_RESULTS, exportCdrs, listCdrs, type CdrCursor } from '../../services/cdrs.js';
import type { ServiceDeps } from '../../services/context.js';
import { InputError } from '../../services/errors.js';
import {
  changeRatePlan, changeStatus, createTenant, getLimits, getTenant, listTenants, updateLimits, updateNoticeSettings, type LimitsPatch, type StatusVerb,
  type TenantStatus,
} from '../../services/tenants.js';
import { fenToCny } from '../../money/units.js';
import { LANGUAGES } from '../../media/prompts.js';
import { actorOf, tenantRef } from '../auth.js';
import { Cny, DateTime, errors, Fen, Id, Instant, Nullable, PlanName, Reason, RedisOutcome, TenantParam } from '../schemas.js';
import { instant } from './common.js';

const TenantRef = Type.Ref('Tenant');
const Status = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('terminated')]);
const Notices = Type.Object({
  notifyEmail: Type.Optional(Nullable(Type.String({ maxLength: 600, description: 'one address or up to 5 comma-separated' }))),
  notifySms: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
  notifyWebhook: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  notifyLanguage: Type.Optional(Nullable(Type.Union([Type.Literal('zh'), Type.Literal('en')], { description: 'language of e-mail and SMS notices; null = the announcement language' }))),
}, { additionalProperties: false });
const CdrQuery = {
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  result: Type.Optional(Type.Union(CDR_RESULTS.map((r) => Type.Literal(r)))),
  callee: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{1,20}$', description: 'called numbers starting with these digits' })),
  caller: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{1,20}$', description: 'the calling number' })),
};
const DAY_MS = 86_400_000;

/** Keyset cursor of the CDR listing: the (invite_at, call_id) of the last row returned, opaque to clients. */
function encodeCursor(c: CdrCursor): string {
  return Buffer.from(JSON.stringify([c.inviteAt, c.callId]), 'utf8').toString('base64url');
}

function decodeCursor(raw: string): CdrCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && !Number.isNaN(Date.parse(v[0])) && typeof v[1] === 'string' && v[1].length <= 300) {
      return { inviteAt: v[0], callId: v[1] };
    }
  } catch {
    // fall through to the 400 below
  }
  throw new InputError('query.cursor', 'not a value returned as nextCursor by this API');
}

export function registerTenantRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.get('/v1/me', {
    config: { access: 'any' },
    schema: {
      summary: 'Who this token is: role, token id, and the tenant of a tenant token', tags: ['tenants'],
      response: { 200: Type.Object({ role: Type.String(), tokenId: Nullable(Id), tenant: Type.Optional(TenantRef) }), ...errors(401) },
    },
  }, async (req) => {
    const p = req.principal!;
    if (p.role !== 'tenant') return { role: p.role, tokenId: p.tokenId };
    return { role: p.role, tokenId: p.tokenId, tenant: await getTenant(s, p.actor, p.actor.tenantId!) };
  });

  app.get('/v1/tenants', {
    config: { access: 'any' },
    schema: {
      summary: 'Tenants: operators see every tenant, a tenant token only its own', tags: ['tenants'],
      querystring: Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenants: Type.Array(TenantRef) }), ...errors(400, 401) },
    },
  }, async (req) => {
    const q = req.query as { status?: TenantStatus };
    return { tenants: await listTenants(s, actorOf(req), q.status ? { status: q.status } : {}) };
  });

  app.post('/v1/tenants', {
    config: { access: 'admin' },
    schema: {
      summary: 'Create a tenant (Party A) with its full legal name', tags: ['tenants'],
      body: Type.Object({
        code: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
        legalName: Type.String({ minLength: 1, maxLength: 200 }),
        ratePlan: Type.Optional(PlanName),
        ...Notices.properties,
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ tenant: TenantRef, redis: RedisOutcome }), ...errors(400, 401, 403) },
    },
  }, async (req, reply) => {
    const b = req.body as { code: string; legalName: string; ratePlan?: string; notifyEmail?: string | null; notifySms?: string | null; notifyWebhook?: string | null };
    return reply.code(201).send(await createTenant(s, actorOf(req), b));
  });

  app.get('/v1/tenants/:tenant', {
    config: { access: 'any' },
    schema: { summary: 'One tenant', tags: ['tenants'], params: TenantParam, response: { 200: TenantRef, ...errors(400, 401, 404) } },
  }, async (req) => getTenant(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant)));

  const NoticeOut = Type.Object({
    notifyEmail: Nullable(Type.String()), notifySms: Nullable(Type.String()), notifyWebhook: Nullable(Type.String()),
    notifyLanguage: Nullable(Type.Union([Type.Literal('zh'), Type.Literal('en')])),
  });
  const noticeOut = (t: { notifyEmail: string | null; notifySms: string | null; notifyWebhook: string | null; notifyLanguage: 'zh' | 'en' | null }) => ({
    notifyEmail: t.notifyEmail, notifySms: t.notifySms, notifyWebhook: t.notifyWebhook, notifyLanguage: t.notifyLanguage,
  });
  app.get('/v1/tenants/:tenant/notice-settings', {
    config: { access: 'any' },
    schema: { summary: 'Where tenant notices go (e-mail, SMS, webhook) and their language (contract art. 2.2)', tags: ['tenants'], params: TenantParam, response: { 200: NoticeOut, ...errors(401, 404) } },
  }, async (req) => {
    return noticeOut(await getTenant(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant)));
  });
  app.patch('/v1/tenants/:tenant/notice-settings', {
    config: { access: 'self-or-admin' },
    schema: {
      summary: 'Change notice channels (only the fields given; null switches a channel off): a tenant for itself, or an operator-admin', tags: ['tenants'],
      params: TenantParam, body: Notices, response: { 200: NoticeOut, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    return noticeOut(await updateNoticeSettings(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant), req.body as object));
  });

  // announcements: the language of the tenant's refusal prompts and whether its callers hear the
  // low-credit warning; the same operation as `softswitch tenant announcements`
  const Language = Type.Union(LANGUAGES.map((l) => Type.Literal(l)), { description: 'language of the prompts (zh: Chinese, en: English)' });
  const AnnouncementsOut = Type.Object({ tenantId: Id, tenant: Type.String(), language: Language, lowCreditWarning: Type.Boolean() });
  const announcementsOut = (r: Awaited<ReturnType<typeof setTenantAnnouncements>>) => ({ tenantId: r.tenantId, tenant: r.code, ...r.after });
  app.get('/v1/tenants/:tenant/announcements', {
    config: { access: 'any' },
    schema: { summary: 'Announcement settings: prompt language and the low-credit warning', tags: ['tenants'], params: TenantParam, response: { 200: AnnouncementsOut, ...errors(400, 401, 404) } },
  }, async (req) => announcementsOut(await setTenantAnnouncements(s, actorOf(req), { tenant: tenantRef(req, (req.params as { tenant: string }).tenant) })));
  // writes are operator-admin's, like limits: the warning anchors calls on a media server (its capacity) and works
  // only with call centers that take re-INVITEs (docs/operations.md), which the operator checks
  app.put('/v1/tenants/:tenant/announcements', {
    config: { access: 'admin' },
    schema: {
      summary: 'Set the announcement settings (both fields; operator-admin); audited (tenant.announcements) when they change; SIP instances apply them within 5 s',
      tags: ['tenants'], params: TenantParam,
      body: Type.Object({ language: Language, lowCreditWarning: Type.Boolean({ description: 'the caller hears a warning once before its credit runs out (anchors the call on a media server)' }) }, { additionalProperties: false }),
      response: { 200: AnnouncementsOut, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const b = req.body as { language: string; lowCreditWarning: boolean };
    return announcementsOut(await setTenantAnnouncements(s, actorOf(req), { tenant: tenantRef(req, (req.params as { tenant: string }).tenant), language: b.language, lowCreditWarning: b.lowCreditWarning }));
  });

  app.get('/v1/tenants/:tenant/limits', {
    config: { access: 'any' },
    schema: { summary: 'Call limits of a tenant', tags: ['tenants'], params: TenantParam, response: { 200: Type.Ref('Limits'), ...errors(401, 404) } },
  }, async (req) => (await getLimits(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant))).limits);
  app.patch('/v1/tenants/:tenant/limits', {
    config: { access: 'admin' },
    schema: {
      summary: 'Change call limits (only the fields given); SIP instances apply them within seconds', tags: ['tenants'], params: TenantParam,
      body: Type.Object({
        maxConcurrent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
        maxCps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
        blockedPrefixes: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{1,20}$' }), { maxItems: 1000 })),
        allowInternational: Type.Optional(Type.Boolean()),
        callingHours: Type.Optional(Type.String({ description: 'HH:MM-HH:MM in the service time zone, or "any"' })),
        dailySpendCap: Type.Optional(Nullable(Cny)),
      }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: Type.Ref('Limits'), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const fields = { callingHours: 'body.callingHours', dailySpendCap: 'body.dailySpendCap' };
    return (await updateLimits(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant), req.body as LimitsPatch, fields)).limits;
  });

  app.put('/v1/tenants/:tenant/rate-plan', {
    config: { access: 'admin' },
    schema: {
      summary: 'Move a tenant to another rate plan: calls authorized from now on are rated by it on every instance; calls in progress keep their rate; audited (tenant.rate-plan)',
      tags: ['tenants'], params: TenantParam,
      body: Type.Object({ ratePlan: PlanName }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenant: TenantRef, before: Nullable(Type.String()), ratePlan: Type.String(), redis: RedisOutcome }), ...errors(400, 401, 403, 404, 409) },
    },
  }, async (req) => {
    const r = await changeRatePlan(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant), (req.body as { ratePlan: string }).ratePlan);
    return { tenant: r.tenant, before: r.before, ratePlan: r.after, redis: r.redis };
  });

  const verbs: [StatusVerb, string][] = [
    ['suspend', 'Suspend at once: new calls refused, live calls cut on every instance (art. 5.4)'],
    ['resume', 'Reinstate a suspended tenant'],
    ['terminate', 'Terminate a tenant (final): its tokens stop working'],
  ];
  for (const [verb, summary] of verbs) {
    app.post(`/v1/tenants/:tenant/${verb}`, {
      config: { access: 'admin' },
      schema: {
        summary, tags: ['tenants'], params: TenantParam,
        body: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: Type.Object({ tenant: TenantRef, before: Status, redis: RedisOutcome }), ...errors(400, 401, 403, 404) },
      },
    }, async (req) => changeStatus(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant), verb, (req.body as { reason?: string } | undefined)?.reason ?? null));
  }

  app.get('/v1/tenants/:tenant/balance', {
    config: { access: 'any' },
    schema: {
      summary: 'Settled balance from the ledger per bucket, paid and gift apart, with the low-balance state (art. 2.2)', tags: ['balance'], params: TenantParam,
      response: {
        200: Type.Object({
          tenantId: Id, asOf: DateTime, usablePaidFen: Fen, usableGiftFen: Fen, usableTotalFen: Fen, usableTotalCny: Type.String(),
          lowBalance: Type.Object({ low: Type.Boolean(), reasons: Type.Array(Type.String()), monthlyFeeFen: Fen, amountDueFen: Fen, remainingMonths: Type.Integer() }),
          buckets: Type.Array(Type.Object({ bucketId: Id, kind: Type.String(), validFrom: DateTime, expiresAt: Nullable(DateTime), balanceFen: Fen, state: Type.String() }, { additionalProperties: true })),
          note: Type.String(),
        }),
        ...errors(401, 404),
      },
    },
  }, async (req) => {
    const b = await tenantBalance(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant));
    return { ...b, usableTotalCny: fenToCny(b.usableTotalFen), note: 'settled ledger balance; charges of calls in progress are not yet deducted' };
  });

  app.get('/v1/tenants/:tenant/bills/:month', {
    config: { access: 'any' },
    schema: {
      summary: 'Deprecated: use GET /v1/tenants/{tenant}/statements/{month}. A summary of that statement (same month rule, same amounts): opening and closing balance, credited and debited, per transfer kind, calls by destination',
      deprecated: true, tags: ['balance'],
      params: Type.Object({ ...TenantParam.properties, month: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM' }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenantId: Id, month: Type.String(), openingBalanceFen: Fen, closingBalanceFen: Fen, creditedFen: Fen, debitedFen: Fen }, { additionalProperties: true }), ...errors(400, 401, 404) },
    },
  }, async (req, reply) => {
    const p = req.params as { tenant: string; month: string };
    const bill = await monthlyBill(s, actorOf(req), tenantRef(req, p.tenant), p.month);
    // RFC 9745 Deprecation and RFC 8288 Link to the successor
    reply.header('deprecation', 'true').header('link', `</v1/tenants/${encodeURIComponent(p.tenant)}/statements/${p.month}>; rel="successor-version"`);
    return {
      ...bill, openingBalanceCny: fenToCny(bill.openingBalanceFen), closingBalanceCny: fenToCny(bill.closingBalanceFen),
      creditedCny: fenToCny(bill.creditedFen), debitedCny: fenToCny(bill.debitedFen),
    };
  });

  app.get('/v1/tenants/:tenant/cdrs', {
    config: { access: 'any' },
    schema: {
      summary: 'CDRs newest first, keyset-paged: follow nextCursor. from inclusive, to exclusive; default the last 31 days, at most 366', tags: ['cdrs'],
      params: TenantParam,
      querystring: Type.Object({
        ...CdrQuery,
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,1000}$' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenantId: Id, from: DateTime, to: DateTime, cdrs: Type.Array(Type.Object({}, { additionalProperties: true })), nextCursor: Nullable(Type.String()) }), ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const q = req.query as { from?: string; to?: string; result?: (typeof CDR_RESULTS)[number]; callee?: string; caller?: string; limit?: number; cursor?: string };
    const to = instant('query.to', q.to) ?? s.now();
    const from = instant('query.from', q.from) ?? new Date(to.getTime() - 31 * DAY_MS);
    const page = await listCdrs(s, actorOf(req), {
      tenant: tenantRef(req, (req.params as { tenant: string }).tenant), from, to, limit: q.limit ?? 100, result: q.result, callee: q.callee, caller: q.caller,
      ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
    });
    return { tenantId: page.tenantId, from, to, cdrs: page.rows, nextCursor: page.next ? encodeCursor(page.next) : null };
  });

  app.get('/v1/tenants/:tenant/cdrs/export.csv', {
    config: { access: 'any' },
    schema: {
      summary: 'Every matching CDR as CSV, oldest first, streamed (any size); a tenant gets its own columns only', tags: ['cdrs'], params: TenantParam,
      querystring: Type.Object(CdrQuery, { additionalProperties: false }), produces: ['text/csv'],
      response: { 200: Type.String({ description: 'CSV with a header row' }), ...errors(400, 401, 404) },
    },
  }, async (req, reply) => {
    const q = req.query as { from?: string; to?: string; result?: (typeof CDR_RESULTS)[number]; callee?: string; caller?: string };
    const actor = actorOf(req);
    // resolve (404) and check the filters before the 200 header goes out
    const t = await getTenant(s, actor, tenantRef(req, (req.params as { tenant: string }).tenant));
    const filter = { tenant: t.id, from: instant('query.from', q.from), to: instant('query.to', q.to), result: q.result, callee: q.callee, caller: q.caller };
    if (filter.from && filter.to && filter.from >= filter.to) throw new InputError('query.from', 'must be earlier than to');
    const out = new PassThrough();
    const write = (chunk: string) => new Promise<void>((resolve, reject) => {
      if (out.destroyed) reject(new Error('client went away'));
      else if (out.write(chunk)) resolve();
      else out.once('drain', resolve);
    });
    exportCdrs(s, actor, filter, 'csv', write).then(() => out.end(), (e: unknown) => {
      req.log.error({ err: e }, 'CDR export failed mid-stream');
      out.destroy(e as Error);
    });
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="cdrs-${t.code}.csv"`).header('cache-control', 'no-store')
      .serializer((x) => x as string).send(out);
  });

  const Live = Type.Array(Type.Object({ tenantId: Id, calls: Type.Integer() }));
  app.get('/v1/calls', {
    config: { access: 'staff' },
    schema: { summary: 'Live calls per tenant across every SIP instance', tags: ['calls'], response: { 200: Type.Object({ calls: Live }), ...errors(401, 403) } },
  }, async (req) => ({ calls: await liveCalls(s, actorOf(req)) }));
  app.get('/v1/tenants/:tenant/calls', {
    config: { access: 'any' },
    schema: { summary: 'Live calls of a tenant', tags: ['calls'], params: TenantParam, response: { 200: Type.Object({ calls: Live }), ...errors(401, 404) } },
  }, async (req) => ({ calls: await liveCalls(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant)) }));
  app.post('/v1/tenants/:tenant/calls/cut', {
    config: { access: 'admin' },
    schema: {
      summary: 'Cut every live call of a tenant now on every instance (BYE both legs, CDRs written); the tenant stays active', tags: ['calls'],
      params: TenantParam, body: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenantId: Id, tenant: Type.String(), liveCallsBefore: Type.Integer(), instancesReached: Type.Integer() }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => cutCalls(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant), (req.body as { reason?: string } | undefined)?.reason ?? null));
}
