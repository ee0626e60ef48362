-- 020_api_v1: HTTP API v1 (issue 11): token roles and expiry, Idempotency-Key records, real-name documents.

-- Tokens get a role. operator-admin and operator-read tokens belong to no tenant; a tenant token to exactly one.
-- A token may expire; a revoked or expired token, or one whose tenant is terminated, is refused.
alter table api_tokens
  add column role text not null default 'tenant' check (role in ('operator-admin', 'operator-read', 'tenant')),
  add column expires_at timestamptz,
  alter column tenant_id drop not null,
  add constraint api_tokens_role_tenant check ((role = 'tenant') = (tenant_id is not null));

-- Idempotency-Key of API writes (top-ups, gifts): the first result is kept with a hash of the request body, so a
-- replay returns it and another body under the same key is refused (409). Written in the same transaction as the
-- write it describes. scope = the operation (e.g. 'topup'), so one key may be used by two different operations.
create table idempotency_keys (
  scope          text not null check (scope ~ '^[a-z][a-z0-9_.-]{0,39}$'),
  key            text not null check (key ~ '^[\x21-\x7e]{1,150}$'),
  request_sha256 text not null check (request_sha256 ~ '^[0-9a-f]{64}$'),
  status         integer not null check (status between 200 and 299),
  response       jsonb not null,
  actor_kind     text not null,
  actor_id       text not null,
  created_at     timestamptz not null default now(),
  primary key (scope, key)
);
create trigger idempotency_keys_immutable before update or delete on idempotency_keys
  for each row execute function refuse_change();

-- Real-name review (contract art. 4.2): the documents behind a number, as references (the files live in the
-- carrier's document store; we keep type, their id there and a SHA-256 of the file), and review decisions.
-- 'rejected' = the review refused the documents; new documents put the number back in review.
alter table numbers drop constraint numbers_state_check;
alter table numbers add constraint numbers_state_check
  check (state in ('pending_review', 'approved', 'suspended', 'rejected', 'reclaimed'));

create table number_documents (
  id           bigserial primary key,
  number_id    bigint not null references numbers(id),
  doc_type     text not null check (doc_type in ('business_licence', 'legal_rep_id', 'agent_id', 'authorization_letter', 'number_application', 'other')),
  doc_ref      text not null check (length(doc_ref) between 1 and 200),
  file_sha256  text not null check (file_sha256 ~ '^[0-9a-f]{64}$'),
  submitted_at timestamptz not null default now(),
  unique (number_id, doc_type, file_sha256)
);
create index number_documents_number on number_documents (number_id);
create trigger number_documents_immutable before update or delete on number_documents
  for each row execute function refuse_change();
