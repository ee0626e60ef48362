-- 030_sip_sources_notify: every change to the tables the SIP source allow-list is built from (ingress trunks, carrier
-- gateways) notifies channel `sip_sources`, so the edge reloads its list at once instead of at the next refresh
-- (src/edge/sources-pg.ts). A table added to the list later (media servers) gets the same trigger in its migration.
create function notify_sip_sources() returns trigger language plpgsql as $$
begin
  perform pg_notify('sip_sources', tg_table_name);
  return null;
end $$;

create trigger ingress_trunks_sip_sources after insert or update or delete or truncate on ingress_trunks
  for each statement execute function notify_sip_sources();
create trigger carrier_gateways_sip_sources after insert or update or delete or truncate on carrier_gateways
  for each statement execute function notify_sip_sources();
