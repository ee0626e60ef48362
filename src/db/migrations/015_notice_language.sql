-- 015_notice_language: the language a tenant's e-mail and SMS notices are written in (src/notify/messages.ts).
-- null = the tenant's announcement language (migration 050, default zh), so a tenant that never chose keeps one
-- language for prompts and notices. notify_email may hold several addresses, comma-separated (at most 5, checked by
-- src/tenants/tenants.ts validateNoticeSettings).
alter table tenants
  add column notify_language text check (notify_language in ('zh', 'en'));
