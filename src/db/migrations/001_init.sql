-- 001_init: the schema of record.
--
-- Money: every column named *_fen is bigint fen (0.01 CNY); see src/money/units.ts.
-- Rates: numeric(14,6) CNY per minute. Times: timestamptz (UTC); calendar rules use config service.timezone.
-- Immutable tables (ledger_transfers, cdrs) refuse UPDATE and DELETE by trigger.

create table tenants (
  id                 bigserial primary key,
  code               text not null unique check (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  legal_name         text not null check (length(legal_name) between 1 and 200),
  status             text not null default 'active' check (status in ('active', 'suspended', 'terminated')),
  status_reason      text,
  service_start      timestamptz,
  service_end        timestamptz,
  rate_plan_id       bigint,
  -- limits (issue 4); null = no limit
  max_concurrent     integer not null default 30 check (max_concurrent >= 0),
  max_cps            integer not null default 10 check (max_cps >= 0),
  blocked_prefixes   text[] not null default '{}',
  allow_international boolean not null default false,
  calling_hours_from time,             -- in service.timezone; both null = any time
  calling_hours_to   time,
  daily_spend_cap_fen bigint check (daily_spend_cap_fen is null or daily_spend_cap_fen >= 0),
  -- low-balance notice (contract art. 2.2), e-mail/SMS/webhook targets
  notify_email       text,
  notify_sms         text,
  notify_webhook     text,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  check (service_end is null or service_start is null or service_end > service_start),
  check ((calling_hours_from is null) = (calling_hours_to is null))
);

-- Orders supersede (rule 1): a new order replaces the tenant's active one from its signing date; history kept.
create table orders (
  id                  bigserial primary key,
  tenant_id           bigint not null references tenants(id),
  order_no            text not null unique,
  signed_at           timestamptz not null default now(),
  activated_at        timestamptz,
  package_amount_fen  bigint not null check (package_amount_fen >= 0),
  package_count       integer not null default 1 check (package_count >= 0),
  validity_months     integer not null check (validity_months between 1 and 120),
  number_count        integer not null default 0 check (number_count >= 0),
  monthly_rent_fen    bigint not null default 0 check (monthly_rent_fen >= 0),
  total_fen           bigint not null check (total_fen >= 0),
  paid_at             timestamptz,
  status              text not null default 'active' check (status in ('active', 'superseded', 'cancelled')),
  supersedes_order_id bigint references orders(id),
  created_at          timestamptz not null default now()
);
create unique index orders_one_active_per_tenant on orders (tenant_id) where status = 'active';

create table rate_plans (
  id          bigserial primary key,
  name        text not null unique,
  currency    text not null default 'CNY' check (currency = 'CNY'),
  created_at  timestamptz not null default now()
);
alter table tenants add constraint tenants_rate_plan_fk foreign key (rate_plan_id) references rate_plans(id);

create table rate_deck_entries (
  id                    bigserial primary key,
  rate_plan_id          bigint not null references rate_plans(id),
  prefix                text not null check (prefix ~ '^[0-9]{1,20}$'),
  destination           text not null default '',
  price_per_minute      numeric(14, 6) not null check (price_per_minute >= 0),
  initial_increment     integer not null default 1 check (initial_increment between 1 and 3600),
  subsequent_increment  integer not null default 1 check (subsequent_increment between 1 and 3600),
  connect_fee           numeric(14, 6) not null default 0 check (connect_fee >= 0),
  minimum_seconds       integer not null default 0 check (minimum_seconds between 0 and 3600),
  effective_from        timestamptz not null default '1970-01-01T00:00:00Z',
  effective_to          timestamptz,
  created_at            timestamptz not null default now(),
  unique (rate_plan_id, prefix, effective_from),
  check (effective_to is null or effective_to > effective_from)
);
create index rate_deck_lookup on rate_deck_entries (rate_plan_id, prefix);

-- Balance buckets: paid and gift credit kept apart (contract art. 5.3); each with its validity.
-- The amount left is not stored here: it is the ledger account's balance (ledger_accounts.bucket_id).
create table balance_buckets (
  id               bigserial primary key,
  tenant_id        bigint not null references tenants(id),
  kind             text not null check (kind in ('paid', 'gift')),
  source_order_id  bigint references orders(id),
  valid_from       timestamptz not null default now(),
  expires_at       timestamptz,
  created_at       timestamptz not null default now(),
  check (expires_at is null or expires_at > valid_from)
);
create index balance_buckets_tenant on balance_buckets (tenant_id);

-- Real-name numbers (rules 8, 9): usable only when approved; held by exactly one tenant.
create table numbers (
  id                bigserial primary key,
  e164              text not null unique check (e164 ~ '^\+[1-9][0-9]{5,14}$'),
  tenant_id         bigint references tenants(id),
  monthly_rent_fen  bigint not null default 0 check (monthly_rent_fen >= 0),
  state             text not null default 'pending_review'
                    check (state in ('pending_review', 'approved', 'suspended', 'reclaimed')),
  state_reason      text,
  reviewed_at       timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create index numbers_tenant on numbers (tenant_id);

-- Call-center trunks we accept INVITEs from (IP allow-list), with their RFC 4006 failure policy.
create table ingress_trunks (
  id              bigserial primary key,
  name            text not null unique,
  address         inet not null,
  port            integer check (port is null or port between 1 and 65535),
  failure_policy  text not null default 'terminate' check (failure_policy in ('terminate', 'continue')),
  enabled         boolean not null default true,
  created_at      timestamptz not null default now()
);

-- Carrier trunk gateways, tried in priority order (lower first), weighted random within a priority.
create table carrier_gateways (
  id             bigserial primary key,
  name           text not null unique,
  host           text not null,
  port           integer not null default 5060 check (port between 1 and 65535),
  transport      text not null default 'udp' check (transport in ('udp', 'tcp')),
  priority       integer not null default 10 check (priority >= 0),
  weight         integer not null default 100 check (weight between 1 and 10000),
  number_format  text not null default 'national' check (number_format in ('e164', 'national', 'international00')),
  enabled        boolean not null default true,
  created_at     timestamptz not null default now()
);

-- Double-entry ledger, TigerBeetle-style: accounts with posted totals, immutable transfers with ids.
-- An account's balance = credits_posted - debits_posted = sum of its transfers (checked by tests and reconcile).
create table ledger_accounts (
  id              bigserial primary key,
  code            text not null unique,  -- e.g. 'tenant:7:bucket:12', 'revenue:calls', 'cash'
  kind            text not null check (kind in ('tenant_bucket', 'revenue', 'cash', 'gift_funding', 'expired', 'receivable')),
  tenant_id       bigint references tenants(id),
  bucket_id       bigint unique references balance_buckets(id),
  must_not_overdraw boolean not null default false,  -- true: debits may never exceed credits
  debits_posted   bigint not null default 0 check (debits_posted >= 0),
  credits_posted  bigint not null default 0 check (credits_posted >= 0),
  created_at      timestamptz not null default now(),
  check (not must_not_overdraw or debits_posted <= credits_posted)
);

create table ledger_transfers (
  id                 bigserial primary key,
  idempotency_key    text not null unique,
  debit_account_id   bigint not null references ledger_accounts(id),
  credit_account_id  bigint not null references ledger_accounts(id),
  amount_fen         bigint not null check (amount_fen > 0),
  kind               text not null check (kind in ('top_up', 'gift', 'call_charge', 'rental', 'late_fee',
                                                    'expiry_clear', 'refund', 'adjustment')),
  tenant_id          bigint references tenants(id),
  call_id            text,
  memo               text,
  created_at         timestamptz not null default now(),
  check (debit_account_id <> credit_account_id)
);
create index ledger_transfers_tenant on ledger_transfers (tenant_id, created_at);
create index ledger_transfers_call on ledger_transfers (call_id) where call_id is not null;

-- CDRs: one per attempt (answered, failed, canceled, rejected), immutable, partitioned by month of invite_at.
create table cdrs (
  call_id            text not null,          -- our id for the call (A-leg Call-ID + from-tag hash)
  invite_at          timestamptz not null,
  tenant_id          bigint,
  a_call_id          text not null,
  b_call_id          text,
  caller             text not null,
  callee             text not null,
  ingress_trunk      text,
  gateway            text,
  ring_at            timestamptz,
  answer_at          timestamptz,
  end_at             timestamptz not null,
  billable_seconds   integer not null default 0 check (billable_seconds >= 0),
  duration_ms        bigint not null default 0 check (duration_ms >= 0),
  rate_plan_id       bigint,
  rate_prefix        text,
  price_per_minute   numeric(14, 6),
  initial_increment  integer,
  subsequent_increment integer,
  connect_fee        numeric(14, 6),
  minimum_seconds    integer,
  rounding           text,
  charge_fen         bigint not null default 0 check (charge_fen >= 0),
  sip_status         integer not null,
  result             text not null check (result in ('answered', 'failed', 'canceled', 'rejected')),
  reject_reason      text,
  disconnect_side    text check (disconnect_side in ('caller', 'callee', 'system')),
  disconnect_reason  text,
  instance_id        text,
  recorded_at        timestamptz not null default now(),
  primary key (call_id, invite_at)
) partition by range (invite_at);
create table cdrs_default partition of cdrs default;
create index cdrs_tenant_time on cdrs (tenant_id, invite_at);

-- Outbox consumer's exactly-once guard: an event id is processed at most once, in the same transaction
-- as the CDR and ledger rows it writes.
create table processed_events (
  event_id      text primary key,
  stream_id     text,
  processed_at  timestamptz not null default now()
);

create table notifications (
  id           bigserial primary key,
  tenant_id    bigint not null references tenants(id),
  kind         text not null check (kind in ('low_balance', 'balance_exhausted', 'period_ending', 'period_ended',
                                              'suspended', 'resumed', 'payment_overdue')),
  channel      text not null check (channel in ('email', 'sms', 'webhook', 'log')),
  dedupe_key   text not null unique,
  payload      jsonb not null default '{}',
  created_at   timestamptz not null default now(),
  sent_at      timestamptz,
  error        text
);

create function refuse_change() returns trigger language plpgsql as $$
begin
  raise exception '% is immutable: % refused', tg_table_name, tg_op using errcode = 'P0001';
end $$;
create trigger ledger_transfers_immutable before update or delete on ledger_transfers
  for each row execute function refuse_change();
create trigger cdrs_immutable before update or delete on cdrs
  for each row execute function refuse_change();

-- Monthly CDR partitions: ensure_cdr_partitions(from, months) creates any missing month partitions
-- (called at start-up for the current month and the next ones, so the default partition stays empty).
create function ensure_cdr_partitions(from_ts timestamptz, months integer) returns integer
language plpgsql as $$
declare
  m date := date_trunc('month', from_ts at time zone 'UTC')::date;
  made integer := 0;
  name text;
begin
  for i in 0 .. months - 1 loop
    name := format('cdrs_%s', to_char(m, 'YYYY_MM'));
    if to_regclass(name) is null then
      execute format('create table %I partition of cdrs for values from (%L) to (%L)',
                     name, (m::timestamp at time zone 'UTC'), ((m + interval '1 month')::timestamp at time zone 'UTC'));
      made := made + 1;
    end if;
    m := (m + interval '1 month')::date;
  end loop;
  return made;
end $$;
select ensure_cdr_partitions(now() - interval '1 month', 4);
