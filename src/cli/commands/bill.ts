import { writeFileSync } from 'node:fs';
import { invoicePdf, issueInvoice, listInvoices, showStatement, statementCsv, statementPdf, type Statement } from '../../services/statements.js';
import { flag, reqStr, str, UsageError, type CommandSpec } from '../framework.js';
import { cny, iso, table } from './shared.js';

function statementText(s: Statement): string {
  const lines = [
    `${s.tenant.legalName} (${s.tenant.code}) - statement ${s.month} (${s.timeZone})`,
    `balance paid ${cny(s.balances.paid.openingFen)} → ${cny(s.balances.paid.closingFen)} CNY; gift ${cny(s.balances.gift.openingFen)} → ${cny(s.balances.gift.closingFen)} CNY`,
    ...s.topUps.map((l) => `  top-up ${iso(l.at)} ${cny(l.amountFen)} ${l.description}`),
    ...s.gifts.map((l) => `  gift   ${iso(l.at)} ${cny(l.amountFen)} ${l.description}`),
    `calls: ${s.calls.totalCalls}, ${cny(s.calls.totalFen)} CNY`,
    ...s.calls.groups.map((g) => `  ${g.destination}: ${g.calls} calls, ${g.billedMinutes} min, ${cny(g.amountFen)} CNY`),
    ...[['rent', s.rent], ['late fee', s.lateFees], ['charge', s.otherCharges], ['adjustment', s.adjustments], ['refund', s.refunds], ['expired', s.expired]]
      .flatMap(([name, ls]) => (ls as Statement['rent']).map((l) => `  ${name} ${iso(l.at)} ${cny(l.amountFen)} ${l.description}`)),
    `owed ${cny(s.receivables.openingOwedFen)} + charged ${cny(s.receivables.issuedFen)} - paid ${cny(s.receivables.paidFen)} = ${cny(s.receivables.closingOwedFen)} CNY`,
    ...s.payments.map((p) => `  payment ${iso(p.at)} ${cny(p.amountFen)} ${p.reference}`),
  ];
  return lines.join('\n');
}

export const billCommands: CommandSpec[] = [
  {
    path: ['bill', 'show'],
    summary:
      'A tenant\'s statement of a month: full legal name, balances (paid and gift apart), top-ups and gifts, calls by\n' +
      'destination, rent, late fees, adjustments, refunds, receivables and payments; every figure from the ledger.',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'month', type: 'string', required: true, doc: 'YYYY-MM (service time zone)' },
      { name: 'csv', type: 'bool', doc: 'print CSV (section,date,description,amount_cny)' },
      { name: 'pdf', type: 'string', doc: 'write a PDF to this file (needs a CJK font, see README)' },
    ],
    examples: ['softswitch bill show --tenant demo --month 2026-12 --pdf demo-2026-12.pdf'],
    async run(ctx, args) {
      const deps = ctx.services();
      const s = await showStatement(deps, ctx.actor, { tenant: reqStr(args, 'tenant'), month: reqStr(args, 'month') });
      const pdf = str(args, 'pdf');
      if (flag(args, 'csv') && (pdf || flag(args, 'json'))) throw new UsageError('choose one of --json, --csv, --pdf');
      if (pdf) {
        writeFileSync(pdf, await statementPdf(deps, s));
        return { json: { written: pdf }, text: `statement ${s.tenant.code} ${s.month} written to ${pdf}` };
      }
      if (flag(args, 'csv')) {
        await ctx.write(statementCsv(s));
        return { json: undefined, text: '' };
      }
      return { json: s, text: statementText(s) };
    },
  },
  {
    path: ['invoice', 'issue'],
    summary: 'Record the tax invoice of a payment (art. 3.4): buyer = the tenant\'s full legal name, VAT at INVOICE_VAT_RATE_PERCENT,\nnext gapless number of the year; one per payment, immutable.',
    options: [
      { name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' },
      { name: 'payment', type: 'string', required: true, doc: 'the payment reference it invoices' },
      { name: 'kind', type: 'string', values: ['general', 'vat-special'], doc: 'general (default) or vat-special (general taxpayer; needs --buyer-tax-id)' },
      { name: 'buyer-tax-id', type: 'string', doc: 'the buyer\'s unified social credit code' },
      { name: 'pdf', type: 'string', doc: 'also write the invoice PDF to this file' },
    ],
    async run(ctx, args) {
      const deps = ctx.services();
      const r = await issueInvoice(deps, ctx.actor, {
        tenant: reqStr(args, 'tenant'), payment: reqStr(args, 'payment'), kind: str(args, 'kind') === 'vat-special' ? 'vat_special' : 'general', buyerTaxId: str(args, 'buyer-tax-id') ?? null,
      });
      const pdf = str(args, 'pdf');
      if (pdf) writeFileSync(pdf, await invoicePdf(deps, ctx.actor, { number: r.invoice.number }));
      const i = r.invoice;
      return {
        json: r,
        text: `${r.duplicate ? 'already issued: ' : ''}invoice ${i.number} (${i.kind}) to ${i.buyerName}: net ${cny(i.netFen)} + VAT ${i.ratePercent}% ${cny(i.taxFen)} = ${cny(i.totalFen)} CNY${pdf ? `; PDF ${pdf}` : ''}`,
      };
    },
  },
  {
    path: ['invoice', 'list'],
    summary: 'List a tenant\'s invoices.',
    options: [{ name: 'tenant', type: 'string', required: true, doc: 'tenant code or id' }],
    async run(ctx, args) {
      const is = await listInvoices(ctx.services(), ctx.actor, { tenant: reqStr(args, 'tenant') });
      return { json: is, text: table(['number', 'kind', 'issued', 'payment', 'net', 'VAT', 'total CNY'], is.map((i) => [i.number, i.kind, iso(i.issuedAt), i.paymentReference, cny(i.netFen), cny(i.taxFen), cny(i.totalFen)])) };
    },
  },
  {
    path: ['invoice', 'pdf'],
    summary: 'Write an invoice\'s PDF.',
    positionals: [{ name: 'number', doc: 'invoice number, e.g. 2026-00000001', required: true }],
    options: [{ name: 'out', type: 'string', required: true, doc: 'file to write' }],
    async run(ctx, args) {
      const out = reqStr(args, 'out');
      writeFileSync(out, await invoicePdf(ctx.services(), ctx.actor, { number: args.positionals[0]! }));
      return { json: { written: out }, text: `invoice ${args.positionals[0]} written to ${out}` };
    },
  },
];
