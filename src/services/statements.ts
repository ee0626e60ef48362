/**
 * Statements (the tenant's monthly bill, art. 5.5) and tax invoices (art. 3.4). The CLI (`bill show`, `invoice`) and
 * the HTTP API call these; a tenant actor sees only its own.
 */
import { withTransaction } from '../db/pool.js';
import { recordAudit } from '../audit/audit.js';
import { assembleStatement, statementCsv, type Statement } from '../billing/statement.js';
import { findCjkFont, invoicePdf as renderInvoice, statementPdf as renderStatement, type InvoiceView } from '../billing/pdf.js';
import { invoiceNumber, splitVat, TAX_ID } from '../billing/invoice.js';
import { dayOf } from '../calendar/zone.js';
import { loadStatementInput } from '../tenants/statement.js';
import { RuleError } from '../tenants/rules.js';
import { tenantFor } from './billing.js';
import type { Actor, ServiceDeps } from './context.js';

export type { Statement };
export { statementCsv };

/** `softswitch bill show` / GET bills/:month: the statement of a calendar month (YYYY-MM, service time zone). */
export async function showStatement(deps: ServiceDeps, actor: Actor, input: { tenant: string; month: string }): Promise<Statement> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(input.month)) throw new RuleError(`month must be YYYY-MM, got ${JSON.stringify(input.month)}`);
  const t = await tenantFor(deps.pool, actor, input.tenant);
  const b = deps.config.billing;
  return assembleStatement(await loadStatementInput(deps.pool, t, input.month, {
    timeZone: deps.config.service.timezone, seller: { name: b.sellerName, taxId: b.sellerTaxId }, now: deps.now(),
  }));
}

/** The statement as a PDF (CJK font: PDF_CJK_FONT or an installed Debian one; PdfFontError says what to install). */
export function statementPdf(deps: ServiceDeps, s: Statement): Promise<Buffer> {
  return renderStatement(s, findCjkFont(deps.config.billing.pdfFont));
}

// ------------------------------------------------------------------------------------------------ invoices

export interface Invoice extends InvoiceView {
  id: bigint;
  tenantId: bigint;
}

interface InvoiceRow {
  id: bigint; number: string; tenant_id: bigint; kind: Invoice['kind']; issued_at: Date; buyer_name: string; buyer_tax_id: string | null;
  seller_name: string; seller_tax_id: string; description: string; net_fen: bigint; tax_fen: bigint; total_fen: bigint; rate_percent: string; reference: string;
}
const SELECT = `select i.id, i.number, i.tenant_id, i.kind, i.issued_at, i.buyer_name, i.buyer_tax_id, i.seller_name, i.seller_tax_id, i.description,
       i.net_fen, i.tax_fen, i.total_fen, i.rate_percent::text as rate_percent, p.reference
  from invoices i join payments p on p.id = i.payment_id`;
const toInvoice = (r: InvoiceRow): Invoice => ({
  id: r.id, number: r.number, tenantId: r.tenant_id, kind: r.kind, issuedAt: r.issued_at, buyerName: r.buyer_name, buyerTaxId: r.buyer_tax_id,
  sellerName: r.seller_name, sellerTaxId: r.seller_tax_id, description: r.description, netFen: r.net_fen, taxFen: r.tax_fen, totalFen: r.total_fen,
  ratePercent: r.rate_percent, paymentReference: r.reference,
});

export interface IssueInvoiceInput {
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
    const p = (await c.query<{ id: bigint; tenant_id: bigint; amount_fen: bigint; received_at: Date }>('select id, tenant_id, amount_fen, received_at from payments where reference = $1', [input.payment])).rows[0];
    if (!p || p.tenant_id !== t.id) throw new RuleError(`no payment ${JSON.stringify(input.payment)} of tenant ${t.code}`);
    const prior = (await c.query<InvoiceRow>(`${SELECT} where i.payment_id = $1`, [p.id.toString()])).rows[0];
    if (prior) {
      if (prior.kind !== input.kind) throw new RuleError(`payment ${input.payment} already has ${prior.kind} invoice ${prior.number}`);
      return { invoice: toInvoice(prior), duplicate: true };
    }
    const year = Number(dayOf(at, deps.config.service.timezone).slice(0, 4));
    const seq = (await c.query<{ last_seq: number }>(
      `insert into invoice_counters (year, last_seq) values ($1, 1) on conflict (year) do update set last_seq = invoice_counters.last_seq + 1 returning last_seq`, [year],
    )).rows[0]!.last_seq;
    const { netFen, taxFen } = splitVat(p.amount_fen, cfg.vatRatePercent);
    const ins = await c.query<{ id: bigint }>(
      `insert into invoices (number, tenant_id, payment_id, kind, buyer_name, buyer_tax_id, seller_name, seller_tax_id, description, rate_percent,
                             net_fen, tax_fen, total_fen, issued_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning id`,
      [invoiceNumber(year, seq), t.id.toString(), p.id.toString(), input.kind, t.legalName, taxId, cfg.sellerName, cfg.sellerTaxId,
       `通信服务费 telecom service (payment ${input.payment} of ${dayOf(p.received_at, deps.config.service.timezone)})`, cfg.vatRatePercent,
       netFen.toString(), taxFen.toString(), p.amount_fen.toString(), at],
    );
    const invoice = toInvoice((await c.query<InvoiceRow>(`${SELECT} where i.id = $1`, [ins.rows[0]!.id.toString()])).rows[0]!);
    await recordAudit(c, { actor, action: 'invoice.issue', targetType: 'invoice', targetId: invoice.number, tenantId: t.id, after: invoice });
    return { invoice, duplicate: false };
  });
}

export async function listInvoices(deps: ServiceDeps, actor: Actor, input: { tenant: string }): Promise<Invoice[]> {
  const t = await tenantFor(deps.pool, actor, input.tenant);
  return (await deps.pool.query<InvoiceRow>(`${SELECT} where i.tenant_id = $1 order by i.issued_at, i.id`, [t.id.toString()])).rows.map(toInvoice);
}

export async function invoicePdf(deps: ServiceDeps, actor: Actor, input: { number: string }): Promise<Buffer> {
  const r = (await deps.pool.query<InvoiceRow>(`${SELECT} where i.number = $1`, [input.number])).rows[0];
  if (!r || (actor.kind === 'tenant' && actor.tenantId !== r.tenant_id)) throw new RuleError(`no invoice ${JSON.stringify(input.number)}`);
  return renderInvoice(toInvoice(r), findCjkFont(deps.config.billing.pdfFont), deps.config.service.timezone);
}
