-- 011_invoices (issue 10, contract art. 3.4): tax invoices recorded after a payment: general, or VAT special for a
-- general taxpayer; buyer = the tenant's full legal name and tax id; numbered without gaps per calendar year
-- (invoice_counters, taken in the issuing transaction); immutable. No e-invoice platform: the record and its PDF.
create table invoice_counters (
  year     integer primary key,
  last_seq integer not null check (last_seq > 0)
);
create table invoices (
  id             bigserial primary key,
  number         text not null unique,
  tenant_id      bigint not null references tenants(id),
  payment_id     bigint not null unique references payments(id),   -- one invoice per payment
  kind           text not null check (kind in ('general', 'vat_special')),
  buyer_name     text not null check (length(buyer_name) between 1 and 200),
  buyer_tax_id   text check (buyer_tax_id ~ '^[0-9A-Z]{15,20}$'),
  seller_name    text not null,
  seller_tax_id  text not null,
  description    text not null,
  rate_percent   numeric(5, 2) not null check (rate_percent >= 0 and rate_percent < 100),
  net_fen        bigint not null check (net_fen >= 0),
  tax_fen        bigint not null check (tax_fen >= 0),
  total_fen      bigint not null check (total_fen > 0 and net_fen + tax_fen = total_fen),
  issued_at      timestamptz not null,
  created_at     timestamptz not null default now(),
  check (kind <> 'vat_special' or buyer_tax_id is not null)
);
create index invoices_tenant on invoices (tenant_id, issued_at);
create trigger invoices_immutable before update or delete on invoices for each row execute function refuse_change();
