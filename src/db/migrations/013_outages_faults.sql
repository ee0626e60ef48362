-- 013_outages_faults (issue 10, contract art. 5.2, 5.3, 10): the carrier outage log and the tenants' fault reports.

-- Gateway down/up periods seen by the SIP instances' OPTIONS health checks (src/outages/recorder.ts). A period opens
-- when an instance sees a gateway go down (down_at = its first failed ping) and closes when one sees it answer again;
-- at most one open period per gateway. Written off the call path; an instance queues changes while PostgreSQL is
-- down and writes them, with the times they were seen, when it is back.
create table gateway_outages (
  id              bigserial primary key,
  gateway         text not null,                 -- carrier_gateways.name (kept as text: the log outlives a gateway)
  down_at         timestamptz not null,
  up_at           timestamptz check (up_at is null or up_at >= down_at),
  down_seen_by    text not null,                 -- instance id
  up_seen_by      text,
  created_at      timestamptz not null default now()
);
create unique index gateway_outages_open on gateway_outages (gateway) where up_at is null;
create index gateway_outages_time on gateway_outages (down_at);

-- A tenant's fault report (art. 5.2): due within 1 working day of finding the fault (the end of the first working
-- day after the day it was found, working-day calendar). A late report is recorded too, flagged, and does not count
-- for an outage refund (art. 5.3). Immutable.
create table fault_reports (
  id            bigserial primary key,
  tenant_id     bigint not null references tenants(id),
  found_at      timestamptz not null,
  reported_at   timestamptz not null check (reported_at >= found_at),
  report_by     timestamptz not null,          -- the art. 5.2 deadline
  on_time       boolean not null,
  description   text not null check (length(description) between 1 and 2000),
  reported_by   text not null,                 -- actor kind:id (the tenant itself, or an operator taking a call)
  created_at    timestamptz not null default now()
);
create index fault_reports_tenant on fault_reports (tenant_id, found_at);
create trigger fault_reports_immutable before update or delete on fault_reports for each row execute function refuse_change();
