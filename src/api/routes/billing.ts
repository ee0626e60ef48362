/**
 * Routes of billing's service operations (src/services/billing.ts, statements.ts, jobs.ts): payments, the receivables
 * account, statements (JSON, CSV, PDF), invoices, the job status. The tenant is resolved here first (another tenant's
 * is 404 like a missing one), then the operation runs for that id.
 */

const MonthParam = Type.Object({ ...TenantParam.properties, month: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM in the service time zone' }) }, { additionalProperties: false });

/** A PDF needs a CJK font on the server; without one the answer says what to install instead of a 500. */
async function pdfOrExplain(make: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await make();
  } catch (e) {
    if ((e as Error).name === 'PdfFontError') throw new HttpError(503, 'pdf_unavailable', (e as Error).message);
    throw e;
  }
}
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { recordPayment, showAccount } from '../../services/billing.js';
import { jobsStatus } from '../../services/jobs.js';
import { invoicePdf, issueInvoice, listInvoices, showStatement, statementCsv, statementPdf } from '../../services/statements.js';
import { NotFoundError, RuleError } from '../../services/errors.js';
import { HttpError } from '../errors.js';
import { cnyInput, resolveTenant } from '../../services/common.js';
import type { ServiceDeps } from '../../services/context.js';
import { actorOf, tenantRef } from '../auth.js';
import { Cny, errors, Fen, Instant, TenantParam } from '../schemas.js';
import { instant } from './common.js';

export function registerBillingRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.post('/v1/tenants/:tenant/payments', {
    config: { access: 'admin' },
    schema: {
      summary: 'Record a payment received from a tenant: idempotent by its reference; settles receivables oldest first, credits the prepaid packages of orders it pays off, reinstates a tenant suspended for overdue debt',
      tags: ['money'], params: TenantParam,
      body: Type.Object({
        amount: Cny,
        reference: Type.String({ pattern: '^[\\x21-\\x7e]{1,100}$', description: 'the bank or cash reference; the same reference again is the same payment' }),
        receivedAt: Type.Optional(Instant),
        memo: Type.Optional(Type.String({ maxLength: 200 })),
        orderNo: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$', description: 'settle only this order\'s receivables' })),
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ tenant: Type.String(), duplicate: Type.Boolean(), reinstated: Type.Boolean() }, { additionalProperties: true }), ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const b = req.body as { amount: string; reference: string; receivedAt?: string; memo?: string; orderNo?: string };
    const actor = actorOf(req);
    const t = await resolveTenant(s, actor, tenantRef(req, (req.params as { tenant: string }).tenant));
    const r = await recordPayment(s, actor, {
      tenant: `#${t.id}`, amountFen: cnyInput('body.amount', b.amount), reference: b.reference, receivedAt: instant('body.receivedAt', b.receivedAt),
      memo: b.memo ?? null, ...(b.orderNo ? { orderNo: b.orderNo } : {}),
    });
    return reply.code(201).send(r);
  });

  app.get('/v1/tenants/:tenant/account', {
    config: { access: 'any' },
    schema: {
      summary: 'What a tenant owes: receivables (open or all), payments, what is overdue', tags: ['money'], params: TenantParam,
      querystring: Type.Object({ open: Type.Optional(Type.Boolean({ description: 'only receivables not fully paid' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tenant: Type.String(), owedFen: Fen, receivables: Type.Array(Type.Object({}, { additionalProperties: true })), payments: Type.Array(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true }), ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const actor = actorOf(req);
    const t = await resolveTenant(s, actor, tenantRef(req, (req.params as { tenant: string }).tenant));
    return showAccount(s, actor, { tenant: `#${t.id}`, openOnly: (req.query as { open?: boolean }).open === true });
  });

  app.get('/v1/tenants/:tenant/statements/:month', {
    config: { access: 'any' },
    schema: {
      summary: 'The monthly statement (art. 5.5): opening and closing balance, every movement, calls, receivables; ties to the ledger to the fen', tags: ['statements'],
      params: MonthParam, response: { 200: Type.Object({}, { additionalProperties: true }), ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const p = req.params as { tenant: string; month: string };
    const t = await resolveTenant(s, actorOf(req), tenantRef(req, p.tenant));
    return showStatement(s, actorOf(req), { tenant: `#${t.id}`, month: p.month });
  });
  app.get('/v1/tenants/:tenant/statements/:month/csv', {
    config: { access: 'any' },
    schema: { summary: 'The monthly statement as CSV', tags: ['statements'], params: MonthParam, produces: ['text/csv'], response: { 200: Type.String(), ...errors(400, 401, 404) } },
  }, async (req, reply) => {
    const p = req.params as { tenant: string; month: string };
    const t = await resolveTenant(s, actorOf(req), tenantRef(req, p.tenant));
    const st = await showStatement(s, actorOf(req), { tenant: `#${t.id}`, month: p.month });
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="statement-${t.code}-${p.month}.csv"`)
      .serializer((x) => x as string).send(statementCsv(st));
  });
  app.get('/v1/tenants/:tenant/statements/:month/pdf', {
    config: { access: 'any' },
    schema: {
      summary: 'The monthly statement as PDF (503 pdf_unavailable when the server has no CJK font)', tags: ['statements'], params: MonthParam, produces: ['application/pdf'],
      response: { 200: Type.String({ contentMediaType: 'application/pdf' }), ...errors(400, 401, 404, 503) },
    },
  }, async (req, reply) => {
    const p = req.params as { tenant: string; month: string };
    const t = await resolveTenant(s, actorOf(req), tenantRef(req, p.tenant));
    const st = await showStatement(s, actorOf(req), { tenant: `#${t.id}`, month: p.month });
    const pdf = await pdfOrExplain(() => statementPdf(s, st));
    return reply.type('application/pdf').header('content-disposition', `attachment; filename="statement-${t.code}-${p.month}.pdf"`).send(pdf);
  });

  app.get('/v1/tenants/:tenant/invoices', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s tax invoices (art. 3.4)', tags: ['statements'], params: TenantParam, response: { 200: Type.Object({ invoices: Type.Array(Type.Object({}, { additionalProperties: true })) }), ...errors(401, 404) } },
  }, async (req) => {
    const t = await resolveTenant(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant));
    return { invoices: await listInvoices(s, actorOf(req), { tenant: `#${t.id}` }) };
  });
  app.post('/v1/tenants/:tenant/invoices', {
    config: { access: 'admin' },
    schema: {
      summary: 'Issue the tax invoice of one payment (one per payment; the same request again answers the invoice issued)', tags: ['statements'], params: TenantParam,
      body: Type.Object({
        payment: Type.String({ minLength: 1, maxLength: 100, description: 'the payment\'s reference' }),
        kind: Type.Union([Type.Literal('general'), Type.Literal('vat_special')]),
        buyerTaxId: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z]{15,20}$' })),
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ invoice: Type.Object({}, { additionalProperties: true }), duplicate: Type.Boolean() }), ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const b = req.body as { payment: string; kind: 'general' | 'vat_special'; buyerTaxId?: string };
    const t = await resolveTenant(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant));
    return reply.code(201).send(await issueInvoice(s, actorOf(req), { tenant: `#${t.id}`, payment: b.payment, kind: b.kind, buyerTaxId: b.buyerTaxId ?? null }));
  });
  app.get('/v1/invoices/:number/pdf', {
    config: { access: 'any' },
    schema: {
      summary: 'An invoice as PDF (a tenant token: only its own)', tags: ['statements'], produces: ['application/pdf'],
      params: Type.Object({ number: Type.String({ pattern: '^[A-Za-z0-9-]{1,40}$' }) }, { additionalProperties: false }),
      response: { 200: Type.String({ contentMediaType: 'application/pdf' }), ...errors(400, 401, 404, 503) },
    },
  }, async (req, reply) => {
    const number = (req.params as { number: string }).number;
    const pdf = await pdfOrExplain(() => invoicePdf(s, actorOf(req), { number }).catch((e: Error) => {
      throw e instanceof RuleError && /^no invoice/.test(e.message) ? new NotFoundError(e.message) : e;
    }));
    return reply.type('application/pdf').header('content-disposition', `attachment; filename="invoice-${number}.pdf"`).send(pdf);
  });

  app.get('/v1/jobs', {
    config: { access: 'staff' },
    schema: { summary: 'The billing scheduler\'s jobs: last period done, next due, failures', tags: ['operations'], response: { 200: Type.Object({}, { additionalProperties: true }), ...errors(401, 403) } },
  }, async (req) => jobsStatus(s, actorOf(req)));
}
