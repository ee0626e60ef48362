-- 010_billing_receivables (issue 10): rent as data, business time on ledger transfers, per-tenant receivables and
-- payments, the working-day calendar, and what overdue suspension needs. Money columns are bigint fen.

-- Rent as data: amount per number and period (month | year), billed in advance at each period start. Rows written
-- before keep the meaning they had (a monthly rent).
alter table numbers rename column monthly_rent_fen to rent_fen;
alter table numbers add column rent_period text not null default 'month' check (rent_period in ('month', 'year'));
-- since when the current holder owes rent (set when the number is given to a tenant): the pro-rata base
alter table numbers add column held_since timestamptz;
update numbers set held_since = created_at where tenant_id is not null;
alter table orders rename column monthly_rent_fen to rent_fen;
alter table orders add column rent_period text not null default 'month' check (rent_period in ('month', 'year'));

-- Business time of a transfer (a call's end, a payment's receipt, a rent period's start), which statements group
-- by; created_at stays the time of posting. Rows before this migration: their posting time (a one-time backfill,
-- the only UPDATE the immutable table ever gets).
alter table ledger_transfers add column booked_at timestamptz not null default now();
alter table ledger_transfers disable trigger ledger_transfers_immutable;
update ledger_transfers set booked_at = created_at;
alter table ledger_transfers enable trigger ledger_transfers_immutable;
create index ledger_transfers_tenant_booked on ledger_transfers (tenant_id, booked_at);

alter table ledger_transfers drop constraint ledger_transfers_kind_check;
alter table ledger_transfers add constraint ledger_transfers_kind_check check (kind in (
  'top_up', 'gift', 'call_charge', 'rental', 'late_fee', 'expiry_clear', 'refund', 'adjustment',
  'order', 'payment', 'early_termination'));
-- 'deferred': prepaid packages billed to a tenant and not yet paid (cleared when the payment funds the bucket)
alter table ledger_accounts drop constraint ledger_accounts_kind_check;
alter table ledger_accounts add constraint ledger_accounts_kind_check check (kind in (
  'tenant_bucket', 'revenue', 'cash', 'gift_funding', 'expired', 'receivable', 'deferred'));

-- What a tenant owes: each receivable is posted to the tenant's receivable account (tenant:<t>:receivable) by its
-- transfer, and settled by payment allocations. Immutable; outstanding = amount - allocations.
create table receivables (
  id               bigserial primary key,
  tenant_id        bigint not null references tenants(id),
  kind             text not null check (kind in ('order', 'rent', 'late_fee', 'early_termination')),
  amount_fen       bigint not null check (amount_fen > 0),
  issued_at        timestamptz not null,
  due_at           timestamptz not null check (due_at >= issued_at),
  accrues_late_fee boolean not null,
  order_id         bigint references orders(id),
  number_id        bigint references numbers(id),
  parent_id        bigint references receivables(id),     -- late fee: the receivable it is charged on
  period_start     timestamptz,                           -- rent: the period billed
  period_end       timestamptz,
  fee_day          date,                                  -- late fee: the overdue day
  description      text not null,
  transfer_id      bigint not null unique references ledger_transfers(id),
  created_at       timestamptz not null default now()
);
create index receivables_tenant on receivables (tenant_id, due_at);
create unique index receivables_late_fee_day on receivables (parent_id, fee_day) where kind = 'late_fee';

create table payments (
  id           bigserial primary key,
  tenant_id    bigint not null references tenants(id),
  reference    text not null unique check (length(reference) between 1 and 150),
  amount_fen   bigint not null check (amount_fen > 0),
  received_at  timestamptz not null,
  memo         text,
  transfer_id  bigint not null unique references ledger_transfers(id),
  created_at   timestamptz not null default now()
);
create index payments_tenant on payments (tenant_id, received_at);

create table payment_allocations (
  payment_id     bigint not null references payments(id),
  receivable_id  bigint not null references receivables(id),
  amount_fen     bigint not null check (amount_fen > 0),
  primary key (payment_id, receivable_id)
);
create index payment_allocations_receivable on payment_allocations (receivable_id);

create trigger receivables_immutable before update or delete on receivables for each row execute function refuse_change();
create trigger payments_immutable before update or delete on payments for each row execute function refuse_change();
create trigger payment_allocations_immutable before update or delete on payment_allocations for each row execute function refuse_change();

-- Overdue suspension (art. 3.2): set when the overdue job suspended the tenant, cleared when a payment reinstates
-- it; an operator's own suspension (compliance, art. 5.4) leaves it null and is never lifted by a payment.
alter table tenants add column overdue_suspended_at timestamptz;

-- The working-day calendar (config/calendar/<year>.json, loaded by `softswitch calendar import`).
create table calendar_years (
  year         integer primary key check (year between 2000 and 2100),
  status       text not null check (status in ('official', 'unconfirmed')),
  source       text not null,
  announced_on date,
  note         text not null default '',
  imported_at  timestamptz not null default now()
);
create table calendar_days (
  day      date primary key,
  year     integer not null references calendar_years(year) on delete cascade,
  working  boolean not null,  -- true: make-up working day; false: public holiday
  name     text not null
);

alter table notifications drop constraint notifications_kind_check;
alter table notifications add constraint notifications_kind_check check (kind in (
  'low_balance', 'balance_exhausted', 'period_ending', 'period_ended', 'suspended', 'resumed', 'payment_overdue',
  'renewal_reminder'));
