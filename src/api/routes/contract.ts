/**
 * Routes of the contract's operations beyond payments and bills, each one service operation the CLI also calls:
 * early termination and the outage refund (src/services/termination.ts), the outage log and fault reports
 * (src/services/outages.ts), the billing jobs run by hand (src/services/billing.ts) and the tenant notices
 * (src/services/notices.ts). The tenant is resolved first (another tenant's is 404 like a missing one).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { runLateFees, runLowBalance, runOverdue, runPeriodEnd, runRent, type JobScope } from '../../services/billing.js';
import { resolveTenant } from '../../services/common.js';
import type { ServiceDeps } from '../../services/context.js';
import { listNotices, NOTICE_STATES, retryNotice, type NoticeState } from '../../services/notices.js';
import { listFaultReports, listOutages, reportFault } from '../../services/outages.js';
import { listRefunds, OVERRIDE_MAX, refundOutage, terminateEarly } from '../../services/termination.js';
import { actorOf, tenantRef } from '../auth.js';
import { errors, Id, Instant, Reason, TenantParam } from '../schemas.js';
import { instant } from './common.js';

const Any = Type.Object({}, { additionalProperties: true });
const List = Type.Array(Any);

/** billing jobs as `softswitch billing <job>` runs them: path name → operation */
const JOB_RUNS = {
  rent: runRent, 'late-fees': runLateFees, overdue: runOverdue, 'low-balance': runLowBalance, 'period-end': runPeriodEnd,
} as const satisfies Record<string, (d: ServiceDeps, a: ReturnType<typeof actorOf>, s: JobScope) => Promise<unknown>>;

export function registerContractRoutes(app: FastifyInstance, s: ServiceDeps): void {
  const tenantOf = async (req: Parameters<typeof actorOf>[0]) => resolveTenant(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant));

  // ------------------------------------------------------------------ termination and refunds (art. 4.6, 5.3)
  app.post('/v1/tenants/:tenant/early-termination', {
    config: { access: 'admin' },
    schema: {
      summary: 'The tenant cancels its contract (art. 4.6): 30% of the contract value as a receivable, tenant terminated now (live calls cut), numbers reclaimed; the balance is not refunded. Idempotent per tenant (`tenant terminate --early`)',
      tags: ['money'], params: TenantParam,
      body: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
      response: { 200: Any, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const t = await tenantOf(req);
    return terminateEarly(s, actorOf(req), { tenant: `#${t.id}`, reason: (req.body as { reason?: string } | undefined)?.reason });
  });

  app.post('/v1/tenants/:tenant/refunds', {
    config: { access: 'admin' },
    schema: {
      summary: 'Outage refund (art. 5.3): checked against the outage log and the tenant\'s fault reports (or an audited override); terminates the tenant (no fee) and refunds the remaining paid balance, gift credit excluded (`tenant refund --reason outage`)',
      tags: ['money'], params: TenantParam,
      body: Type.Object({
        reason: Type.Literal('outage'),
        override: Type.Optional(Type.String({ minLength: 1, maxLength: OVERRIDE_MAX, description: 'refund although the outage log does not show the outage: why (kept and audited)' })),
        waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 600, default: 10, description: 'how long to wait for the tenant\'s live calls to end before refunding' })),
      }, { additionalProperties: false }),
      response: { 201: Any, ...errors(400, 401, 403, 404, 409) },
    },
  }, async (req, reply) => {
    const t = await tenantOf(req);
    const b = req.body as { reason: 'outage'; override?: string; waitSeconds?: number };
    return reply.code(201).send(await refundOutage(s, actorOf(req), { tenant: `#${t.id}`, reason: b.reason, override: b.override, waitSeconds: b.waitSeconds }));
  });

  app.get('/v1/tenants/:tenant/refunds', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s refunds with their evidence or override', tags: ['money'], params: TenantParam, response: { 200: List, ...errors(401, 404) } },
  }, async (req) => listRefunds(s, actorOf(req), { tenant: `#${(await tenantOf(req)).id}` }));

  // ------------------------------------------------------------------ outage log and fault reports (art. 5.2, 10)
  app.get('/v1/outages', {
    config: { access: 'staff' },
    schema: {
      summary: 'The carrier outage log: gateway down periods from the OPTIONS health checks and carrier outages (every enabled gateway down), with the working days each touched (`outage list`)',
      tags: ['operations'],
      querystring: Type.Object({
        from: Type.Optional(Instant), to: Type.Optional(Instant), gateway: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
      }, { additionalProperties: false }),
      response: { 200: Any, ...errors(400, 401, 403) },
    },
  }, async (req) => {
    const q = req.query as { from?: string; to?: string; gateway?: string };
    return listOutages(s, actorOf(req), { from: instant('querystring.from', q.from), to: instant('querystring.to', q.to), gateway: q.gateway });
  });

  app.post('/v1/tenants/:tenant/fault-reports', {
    config: { access: 'self-or-admin' },
    schema: {
      summary: 'Report a fault (art. 5.2): due within 1 working day of finding it; a late report is recorded and flagged. A tenant reports for itself at the time of the request; an operator-admin may give the time the tenant called (`fault report`)',
      tags: ['operations'], params: TenantParam,
      body: Type.Object({
        description: Type.String({ minLength: 1, maxLength: 2000 }),
        foundAt: Type.Optional(Instant),
        reportedAt: Type.Optional(Instant),
      }, { additionalProperties: false }),
      response: { 201: Any, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const t = await tenantOf(req);
    const b = req.body as { description: string; foundAt?: string; reportedAt?: string };
    return reply.code(201).send(await reportFault(s, actorOf(req), {
      tenant: `#${t.id}`, description: b.description, foundAt: instant('body.foundAt', b.foundAt), reportedAt: instant('body.reportedAt', b.reportedAt),
    }));
  });

  app.get('/v1/tenants/:tenant/fault-reports', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s fault reports, newest first (`fault list --tenant`)', tags: ['operations'], params: TenantParam, response: { 200: List, ...errors(401, 404) } },
  }, async (req) => listFaultReports(s, actorOf(req), { tenant: `#${(await tenantOf(req)).id}` }));

  app.get('/v1/fault-reports', {
    config: { access: 'staff' },
    schema: { summary: 'Every tenant\'s fault reports, newest first (`fault list`)', tags: ['operations'], response: { 200: List, ...errors(401, 403) } },
  }, async (req) => listFaultReports(s, actorOf(req), {}));

  // ------------------------------------------------------------------ billing jobs by hand
  app.post('/v1/billing-jobs/:job', {
    config: { access: 'admin' },
    schema: {
      summary: 'Run a billing job now, as the scheduler does (`billing rent | late-fees | overdue | low-balance | period-end`); each is idempotent (per receivable and day, per notice)',
      tags: ['operations'],
      params: Type.Object({ job: Type.Union(Object.keys(JOB_RUNS).map((j) => Type.Literal(j))) }, { additionalProperties: false }),
      body: Type.Optional(Type.Object({
        tenant: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,63}$', description: 'one tenant (code or id); default every tenant the job covers' })),
        at: Type.Optional(Instant),
      }, { additionalProperties: false })),
      response: { 200: List, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const b = (req.body ?? {}) as { tenant?: string; at?: string };
    const run = JOB_RUNS[(req.params as { job: keyof typeof JOB_RUNS }).job];
    const tenant = b.tenant === undefined ? undefined : `#${(await resolveTenant(s, actorOf(req), b.tenant)).id}`;
    return run(s, actorOf(req), { tenant, at: instant('body.at', b.at) }) as Promise<unknown[]>;
  });

  // ------------------------------------------------------------------ notices
  const NoticeQuery = Type.Object({
    state: Type.Optional(Type.Union(NOTICE_STATES.map((x) => Type.Literal(x)))),
    kind: Type.Optional(Type.String({ pattern: '^[a-z_]{1,40}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  }, { additionalProperties: false });
  app.get('/v1/notices', {
    config: { access: 'staff' },
    schema: { summary: 'Tenant notices, newest first, with their delivery state (`notice list`)', tags: ['operations'], querystring: NoticeQuery, response: { 200: List, ...errors(400, 401, 403) } },
  }, async (req) => {
    const q = req.query as { state?: NoticeState; kind?: string; limit?: number };
    return listNotices(s, actorOf(req), q);
  });
  app.get('/v1/tenants/:tenant/notices', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s notices, newest first, with their delivery state (`notice list --tenant`)', tags: ['tenants'], params: TenantParam, querystring: NoticeQuery, response: { 200: List, ...errors(400, 401, 404) } },
  }, async (req) => {
    const q = req.query as { state?: NoticeState; kind?: string; limit?: number };
    return listNotices(s, actorOf(req), { ...q, tenant: `#${(await tenantOf(req)).id}` });
  });
  app.post('/v1/notices/:id/retry', {
    config: { access: 'admin' },
    schema: {
      summary: 'Send a failed or parked notice again, with NOTIFY_MAX_ATTEMPTS new attempts (`notice retry`); audited', tags: ['operations'],
      params: Type.Object({ id: Id }, { additionalProperties: false }), response: { 200: Any, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => retryNotice(s, actorOf(req), { id: (req.params as { id: string }).id }));
}
