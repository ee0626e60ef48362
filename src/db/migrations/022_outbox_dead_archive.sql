-- 022_outbox_dead_archive: dead letters discarded by an operator (`softswitch outbox dead discard`, API
-- POST /v1/outbox/dead/{id}/discard). Nothing is lost: the raw event, why it was dead-lettered, why it was discarded
-- and by whom are kept here (committed before the letter leaves Redis). Immutable except `removed_at`, set once
-- when the letter was deleted from the shard's dead-letter stream (null: it vanished before, replayed or discarded
-- concurrently, or the deletion did not happen yet; a retry of the discard finishes it).
create table outbox_dead_archive (
  id            bigserial primary key,
  shard         integer not null check (shard >= 0),
  dead_id       text not null check (dead_id ~ '^[0-9]+-[0-9]+$'), -- id in the shard's dead-letter stream
  stream_id     text not null,                                     -- id the event had in the shard's outbox
  dead_reason   text not null,                                     -- why the consumer dead-lettered it
  consumer      text not null,
  dead_at       timestamptz,
  event         bytea not null,                                    -- the raw event, byte for byte (poison may hold NUL
                                                                   -- or invalid UTF-8, which text refuses)
  tenant_ids    bigint[] not null default '{}',                    -- tenants the event names (empty: none readable)
  reason        text not null check (length(reason) between 1 and 500),
  actor_kind    text not null check (actor_kind in ('operator', 'tenant', 'cli', 'system')),
  actor_id      text not null check (length(actor_id) between 1 and 200),
  discarded_at  timestamptz not null default now(),
  removed_at    timestamptz,
  unique (shard, dead_id)
);

create function outbox_dead_archive_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' then raise exception 'outbox_dead_archive is append-only'; end if;
  if old.removed_at is not null or new.removed_at is null
     or (to_jsonb(new) - 'removed_at') is distinct from (to_jsonb(old) - 'removed_at') then
    raise exception 'outbox_dead_archive rows are immutable except removed_at, set once';
  end if;
  return new;
end $$;
create trigger outbox_dead_archive_guard before update or delete on outbox_dead_archive
  for each row execute function outbox_dead_archive_guard();
