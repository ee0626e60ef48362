/**
 * PDF renderings of statements and invoices with pdfkit. Tenants' legal names are Chinese, so the text is set in a
 * CJK font: PDF_CJK_FONT, else the first of the Debian fonts below that exists (scripts/services.sh installs
 * fonts-wqy-zenhei). Without one the PDF is refused with a message saying what to install (JSON and CSV need no font).
 */
import { existsSync } from 'node:fs';
import PDFDocument from 'pdfkit';
import { fenToCny } from '../money/units.js';
import { dayOf } from '../calendar/zone.js';
import type { Statement } from './statement.js';

const CJK_FONTS: readonly { path: string; name?: string }[] = [
  { path: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', name: 'WenQuanYiZenHei' },
  { path: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', name: 'WenQuanYiMicroHei' },
  { path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', name: 'NotoSansCJKsc-Regular' },
];

export class PdfFontError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PdfFontError';
  }
}

/** The CJK font to use: `configured` (a .ttf/.otf path, or path#PostScriptName for a .ttc), else a Debian one. */
export function findCjkFont(configured: string): { path: string; name?: string } {
  if (configured) {
    const [path, name] = configured.split('#');
    if (!existsSync(path!)) throw new PdfFontError(`PDF_CJK_FONT ${path} does not exist`);
    return name ? { path: path!, name } : { path: path! };
  }
  const f = CJK_FONTS.find((x) => existsSync(x.path));
  if (!f) throw new PdfFontError(`no CJK font for PDFs: install fonts-wqy-zenhei (scripts/services.sh does) or set PDF_CJK_FONT; --json and --csv work without it`);
  return f;
}

function render(font: { path: string; name?: string }, draw: (doc: PDFKit.PDFDocument) => void, meta: { title: string }): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: meta.title, Producer: 'softswitch' } });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    try {
      if (font.name) doc.registerFont('cjk', font.path, font.name);
      else doc.registerFont('cjk', font.path);
      doc.font('cjk');
      draw(doc);
      doc.end();
    } catch (e) {
      reject(e);
    }
  });
}

const money = (fen: bigint) => `${fenToCny(fen)} CNY`;

function row(doc: PDFKit.PDFDocument, left: string, right: string, indent = 0): void {
  const y = doc.y;
  doc.fontSize(9).text(left, 50 + indent, y, { width: 380 - indent });
  const after = doc.y;
  doc.text(right, 430, y, { width: 115, align: 'right' });
  doc.y = Math.max(after, doc.y);
}

function heading(doc: PDFKit.PDFDocument, text: string): void {
  doc.moveDown(0.6).fontSize(11).text(text, 50).moveDown(0.2);
}

export function statementPdf(s: Statement, font: { path: string; name?: string }): Promise<Buffer> {
  const day = (d: Date) => dayOf(d, s.timeZone);
  return render(font, (doc) => {
    doc.fontSize(16).text(`账单 Statement ${s.month}`, { align: 'left' });
    doc.fontSize(10).moveDown(0.3)
      .text(`客户 Customer: ${s.tenant.legalName}`)
      .text(`客户代码 Code: ${s.tenant.code}`)
      .text(`账期 Period: ${day(s.periodStart)} – ${day(new Date(s.periodEnd.getTime() - 1))} (${s.timeZone})`)
      .text(`服务商 Provider: ${s.seller.name}${s.seller.taxId ? ` (${s.seller.taxId})` : ''}`)
      .text(`生成时间 Generated: ${s.generatedAt.toISOString()}`);
    heading(doc, '余额 Balances');
    row(doc, '期初余额（预付）Opening, paid', money(s.balances.paid.openingFen));
    row(doc, '期初余额（赠送）Opening, gift', money(s.balances.gift.openingFen));
    row(doc, '期末余额（预付）Closing, paid', money(s.balances.paid.closingFen));
    row(doc, '期末余额（赠送）Closing, gift', money(s.balances.gift.closingFen));
    heading(doc, '充值与赠送 Top-ups and gifts');
    for (const l of s.topUps) row(doc, `${day(l.at)} ${l.description}`, money(l.amountFen), 10);
    for (const l of s.gifts) row(doc, `${day(l.at)} 赠送 gift: ${l.description}`, money(l.amountFen), 10);
    if (!s.topUps.length && !s.gifts.length) row(doc, '—', '', 10);
    heading(doc, `通话 Calls (${s.calls.totalCalls})`);
    for (const g of s.calls.groups) row(doc, `${g.destination}: ${g.calls} 次 calls, ${g.billedMinutes} 分钟 min`, money(g.amountFen), 10);
    row(doc, '通话合计 Calls total', money(s.calls.totalFen));
    const lines: [string, { at: Date; description: string; amountFen: bigint }[]][] = [
      ['号码租金 Number rent', s.rent], ['滞纳金 Late fees', s.lateFees], ['其他费用 Other charges', s.otherCharges],
      ['调整 Adjustments', s.adjustments], ['退款 Refunds', s.refunds], ['清零 Cleared at expiry', s.expired],
    ];
    for (const [title, ls] of lines) {
      if (!ls.length) continue;
      heading(doc, title);
      for (const l of ls) row(doc, `${day(l.at)} ${l.description}`, money(l.amountFen), 10);
    }
    heading(doc, '应收与付款 Receivables and payments');
    row(doc, '期初欠款 Owed at start', money(s.receivables.openingOwedFen));
    row(doc, '本期应收 Charged this month', money(s.receivables.issuedFen));
    for (const p of s.payments) row(doc, `${day(p.at)} 付款 payment ${p.reference}`, money(p.amountFen), 10);
    row(doc, '本期付款 Paid this month', money(s.receivables.paidFen));
    row(doc, '期末欠款 Owed at end', money(s.receivables.closingOwedFen));
    doc.moveDown(1).fontSize(8).text('金额以乙方计费系统数据为准（合同第三条第三款）。Amounts are from the provider\'s billing records (art. 3.3); every figure ties to its ledger.', 50, doc.y, { width: 495 });
  }, { title: `Statement ${s.tenant.code} ${s.month}` });
}

export interface InvoiceView {
  number: string;
  kind: 'general' | 'vat_special';
  issuedAt: Date;
  buyerName: string;
  buyerTaxId: string | null;
  sellerName: string;
  sellerTaxId: string;
  description: string;
  netFen: bigint;
  taxFen: bigint;
  totalFen: bigint;
  ratePercent: string;
  paymentReference: string;
}

export function invoicePdf(inv: InvoiceView, font: { path: string; name?: string }, timeZone: string): Promise<Buffer> {
  return render(font, (doc) => {
    doc.fontSize(16).text(inv.kind === 'vat_special' ? '增值税专用发票 VAT special invoice' : '普通发票 General invoice');
    doc.fontSize(10).moveDown(0.3)
      .text(`发票号码 Number: ${inv.number}`)
      .text(`开票日期 Date: ${dayOf(inv.issuedAt, timeZone)}`)
      .moveDown(0.5)
      .text(`购买方 Buyer: ${inv.buyerName}`)
      .text(`纳税人识别号 Buyer tax id: ${inv.buyerTaxId ?? '—'}`)
      .text(`销售方 Seller: ${inv.sellerName}`)
      .text(`纳税人识别号 Seller tax id: ${inv.sellerTaxId || '—'}`);
    heading(doc, '项目 Items');
    row(doc, inv.description, money(inv.netFen));
    row(doc, `税率 VAT rate ${inv.ratePercent}%  税额 Tax`, money(inv.taxFen));
    row(doc, '价税合计 Total incl. VAT', money(inv.totalFen));
    doc.moveDown(1).fontSize(8).text(`付款 Payment reference: ${inv.paymentReference}. A record of the tax invoice (art. 3.4); not an e-invoice platform document.`, 50, doc.y, { width: 495 });
  }, { title: `Invoice ${inv.number}` });
}
