-- 008_audit_log: append-only audit of every operator (and CLI) write: who, when, what, before/after.
-- Written in the same transaction as the change it describes, so a change without its audit row cannot commit.
-- Immutable like the ledger and CDRs (refuse_change trigger from 001).
create table audit_log (
  id           bigserial primary key,
  at           timestamptz not null default now(),
  actor_kind   text not null check (actor_kind in ('operator', 'tenant', 'cli', 'system')),
  actor_id     text not null check (length(actor_id) between 1 and 200),
  action       text not null check (action ~ '^[a-z][a-z0-9_.-]{0,79}$'),
  target_type  text not null check (length(target_type) between 1 and 40),
  target_id    text check (length(target_id) <= 200),
  tenant_id    bigint references tenants(id),
  before       jsonb,
  after        jsonb,
  detail       jsonb
);
create index audit_log_at on audit_log (at);
create index audit_log_tenant_at on audit_log (tenant_id, at);
create trigger audit_log_immutable before update or delete on audit_log
  for each row execute function refuse_change();
