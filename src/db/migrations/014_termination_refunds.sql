-- 014_termination_refunds (issue 10, contract art. 4.6, 5.3): how a tenant's contract ended before its period end,
-- and refunds of paid balance.

-- One row per tenant whose contract was ended early: by the tenant (art. 4.6: 30% of the contract value as a fee,
-- a receivable) or under art. 5.3 (carrier outage: no fee, the paid balance refunded). Immutable.
create table terminations (
  id                  bigserial primary key,
  tenant_id           bigint not null unique references tenants(id),
  kind                text not null check (kind in ('early', 'outage')),
  at                  timestamptz not null,
  order_id            bigint references orders(id),       -- the order in force (its contract total is the contract value)
  contract_value_fen  bigint check (contract_value_fen >= 0),
  fee_receivable_id   bigint references receivables(id),  -- early: the art. 4.6 fee
  reason              text not null,
  actor               text not null,                      -- kind:id of who recorded it
  created_at          timestamptz not null default now()
);
create trigger terminations_immutable before update or delete on terminations for each row execute function refuse_change();

-- One row per refund run (`softswitch tenant refund`). The money is in the ledger: one transfer of kind 'refund'
-- per paid bucket, bucket -> cash, key refund:<refund id>:<bucket id>, posted from the charging engine's outbox
-- event (Redis zeroes the bucket and writes the event in one step). Either the outage log's evidence (art. 5.3) or
-- an operator's override reason is kept. Immutable.
create table refunds (
  id                bigserial primary key,
  tenant_id         bigint not null references tenants(id),
  reason            text not null check (reason in ('outage')),
  requested_at      timestamptz not null,
  outage_from       timestamptz,
  outage_to         timestamptz,
  outage_working_days integer,
  fault_report_id   bigint references fault_reports(id),
  override          text check (override is null or length(override) between 1 and 500),
  actor             text not null,
  created_at        timestamptz not null default now(),
  check (fault_report_id is not null or override is not null)
);
create index refunds_tenant on refunds (tenant_id, requested_at);
create trigger refunds_immutable before update or delete on refunds for each row execute function refuse_change();

alter table notifications drop constraint notifications_kind_check;
alter table notifications add constraint notifications_kind_check check (kind in (
  'low_balance', 'balance_exhausted', 'period_ending', 'period_ended', 'suspended', 'resumed', 'payment_overdue',
  'renewal_reminder', 'terminated', 'refund'));
