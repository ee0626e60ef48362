/**
 * Statements (the tenant's monthly bill, art. 5.5) and tax invoices (art. 3.4). The CLI (`bill show`, `invoice`) and
 * the HTTP API call these; a tenant actor sees only its own.
 */
import { withTransaction } from '../db/tx.js';
import { assembleStatement, statementCsv, type Statement } from '../billing/statement.js';
import { findCjkFont, invoicePdf as renderInvoice, statementPdf as renderStatement } from '../billing/pdf.js';
import { invoiceNumber, splitVat, TAX_ID } from '../billing/invoice.js';
import { dayOf, monthRange } from '../calendar/zone.js';
import { recordAudit } from '../store/audit.js';
import { insertInvoice, invoiceById, invoiceByNumber, invoiceOfPayment, listInvoices as invoicesOf, nextInvoiceSeq, type Invoice } from '../store/invoices.js';
import { paymentByReference } from '../store/receivables.js';
import { statementData } from '../store/statements.js';
import { RuleError } from '../tenants/rules.js';
import { tenantFor } from './common.js';
import type { Actor, ServiceDeps } from './context.js';

export type { Statement };
export { statementCsv };

/** `softswitch bill show` / GET bills/:month: the statement of a calendar month (YYYY-MM, service time zone). */
export async function showStatement(deps: ServiceDeps, actor: Actor, input: { tenant: string; month: string }): Promise<Statement> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(input.month)) throw new RuleError(`month must be YYYY-MM, got ${JSON.stringify(input.month)}`);
  const t = await tenantFor(deps.pool, actor, input.tenant);
  const b = deps.config.billing;
  const timeZone = deps.config.service.timezone;
  const { start, end } = monthRange(input.month, timeZone);
  return assembleStatement({
    tenant: { id: t.id, code: t.code, legalName: t.legalName }, seller: { name: b.sellerName, taxId: b.sellerTaxId }, month: input.month, timeZone,
    periodStart: start, periodEnd: end, generatedAt: deps.now(), ...(await statementData(deps.pool, t.id, start, end)),
  });
}

/** The statement as a PDF (CJK font: PDF_CJK_FONT or an installed Debian one; PdfFontError says what to install). */
export function statementPdf(deps: ServiceDeps, s: Statement): Promise<Buffer> {
  return renderStatement(s, findCjkFont(deps.config.billing.pdfFont));
}

// ------------------------------------------------------------------------------------------------ invoices


interface IssueInvoiceInput {
  tenant: string;
  payment: string; // the payment's reference: an invoice follows a payment (art. 3.4)
  kind: 'general' | 'vat_special'; // VAT special only for a general taxpayer (needs its tax id)
  buyerTaxId?: string | null;
}

/**
 * `softswitch invoice issue`: record the tax invoice of one payment: buyer = the tenant's full legal name, VAT at
 * billing.vatRatePercent, the next number of the year. One invoice per payment; immutable once issued.
 */
export async function issueInvoice(deps: ServiceDeps, actor: Actor, input: IssueInvoiceInput): Promise<{ invoice: Invoice; duplicate: boolean }> {
  if (actor.kind === 'tenant') throw new RuleError('issuing an invoice is an operator operation');
  const taxId = input.buyerTaxId?.trim().toUpperCase() || null;
  if (taxId !== null && !TAX_ID.test(taxId)) throw new RuleError('buyer tax id must be 15-20 of 0-9 A-Z (a unified social credit code has 18)');
  if (input.kind === 'vat_special' && !taxId) throw new RuleError('a VAT special invoice is for a general taxpayer: give its tax id (--buyer-tax-id)');
  const at = deps.now();
  const cfg = deps.config.billing;
  return withTransaction(deps.pool, async (c) => {
    const t = await tenantFor(c, actor, input.tenant);
    const p = await paymentByReference(c, input.payment);
    if (!p || p.tenantId !== t.id) throw new RuleError(`no payment ${JSON.stringify(input.payment)} of tenant ${t.code}`);
    const prior = await invoiceOfPayment(c, p.id);
    if (prior) {
      if (prior.kind !== input.kind) throw new RuleError(`payment ${input.payment} already has ${prior.kind} invoice ${prior.number}`);
      return { invoice: prior, duplicate: true };
    }
    const year = Number(dayOf(at, deps.config.service.timezone).slice(0, 4));
    const seq = await nextInvoiceSeq(c, year);
    const { netFen, taxFen } = splitVat(p.amountFen, cfg.vatRatePercent);
    const id = await insertInvoice(c, {
      number: invoiceNumber(year, seq), tenantId: t.id, paymentId: p.id, kind: input.kind, buyerName: t.legalName, buyerTaxId: taxId,
      sellerName: cfg.sellerName, sellerTaxId: cfg.sellerTaxId,
      description: `通信服务费 telecom service (payment ${input.payment} of ${dayOf(p.receivedAt, deps.config.service.timezone)})`,
      ratePercent: String(cfg.vatRatePercent), netFen, taxFen, totalFen: p.amountFen, issuedAt: at,
    });
    const invoice = (await invoiceById(c, id))!;
    await recordAudit(c, { actor, action: 'invoice.issue', targetType: 'invoice', targetId: invoice.number, tenantId: t.id, after: invoice });
    return { invoice, duplicate: false };
  });
}

export async function listInvoices(deps: ServiceDeps, actor: Actor, input: { tenant: string }): Promise<Invoice[]> {
  const t = await tenantFor(deps.pool, actor, input.tenant);
  return invoicesOf(deps.pool, t.id);
}

export async function invoicePdf(deps: ServiceDeps, actor: Actor, input: { number: string }): Promise<Buffer> {
  const inv = await invoiceByNumber(deps.pool, input.number);
  if (!inv || (actor.kind === 'tenant' && actor.tenantId !== inv.tenantId)) throw new RuleError(`no invoice ${JSON.stringify(input.number)}`);
  return renderInvoice(inv, findCjkFont(deps.config.billing.pdfFont), deps.config.service.timezone);
}
