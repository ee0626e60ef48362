-- 050_tenant_announcements: per tenant, the language of its announcements (refusal prompts, low-credit warning)
-- and whether its callers hear the low-credit warning (issue 15). The warning re-INVITEs the caller's leg to the
-- media server for a few seconds, so it is off until the tenant (its call center) is known to take re-INVITEs.
alter table tenants
  add column announcement_language text not null default 'zh' check (announcement_language in ('zh', 'en')),
  add column low_credit_warning boolean not null default false;
