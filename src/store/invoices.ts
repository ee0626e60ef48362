/** SQL of tax invoices (invoices, invoice_counters; contract art. 3.4). Numbering and VAT rules: src/billing/invoice.ts. */
import type { Queryable } from '../db/tx.js';
import type { InvoiceView } from '../billing/pdf.js';

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

const one = async (db: Queryable, where: string, arg: string): Promise<Invoice | null> => {
  const r = (await db.query<InvoiceRow>(`${SELECT} where ${where} = $1`, [arg])).rows[0];
  return r ? toInvoice(r) : null;
};

export const invoiceOfPayment = (db: Queryable, paymentId: bigint): Promise<Invoice | null> => one(db, 'i.payment_id', paymentId.toString());
export const invoiceById = (db: Queryable, id: bigint): Promise<Invoice | null> => one(db, 'i.id', id.toString());
export const invoiceByNumber = (db: Queryable, number: string): Promise<Invoice | null> => one(db, 'i.number', number);

export async function listInvoices(db: Queryable, tenantId: bigint): Promise<Invoice[]> {
  return (await db.query<InvoiceRow>(`${SELECT} where i.tenant_id = $1 order by i.issued_at, i.id`, [tenantId.toString()])).rows.map(toInvoice);
}

/** The next invoice sequence number of a year (gapless: the counter row is locked until the caller commits). */
export async function nextInvoiceSeq(db: Queryable, year: number): Promise<number> {
  return (await db.query<{ last_seq: number }>(
    `insert into invoice_counters (year, last_seq) values ($1, 1) on conflict (year) do update set last_seq = invoice_counters.last_seq + 1 returning last_seq`, [year],
  )).rows[0]!.last_seq;
}

export async function insertInvoice(
  db: Queryable,
  i: Omit<Invoice, 'id' | 'paymentReference'> & { paymentId: bigint },
): Promise<bigint> {
  const ins = await db.query<{ id: bigint }>(
    `insert into invoices (number, tenant_id, payment_id, kind, buyer_name, buyer_tax_id, seller_name, seller_tax_id, description, rate_percent,
                           net_fen, tax_fen, total_fen, issued_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning id`,
    [i.number, i.tenantId.toString(), i.paymentId.toString(), i.kind, i.buyerName, i.buyerTaxId, i.sellerName, i.sellerTaxId,
     i.description, i.ratePercent, i.netFen.toString(), i.taxFen.toString(), i.totalFen.toString(), i.issuedAt],
  );
  return ins.rows[0]!.id;
}
