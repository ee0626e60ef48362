-- 006_api_tokens: bearer tokens of the tenant HTTP API (contract art. 5.5 bill/CDR query, art. 6 confidentiality).
-- Only the SHA-256 of a token is stored; the token itself is shown once when issued. A token belongs to exactly
-- one tenant and sees only that tenant's data. Operators use config api.operatorToken instead.
create table api_tokens (
  id            bigserial primary key,
  tenant_id     bigint not null references tenants(id),
  token_sha256  text not null unique check (token_sha256 ~ '^[0-9a-f]{64}$'),
  label         text not null default '' check (length(label) <= 100),
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz
);
create index api_tokens_tenant on api_tokens (tenant_id);
