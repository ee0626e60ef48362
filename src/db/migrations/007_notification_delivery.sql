-- 007_notification_delivery: state of sending the notices in `notifications` (src/notify/notifier.ts).
-- A row is due when sent_at is null and next_attempt_at <= now. next_attempt_at null on an unsent row means no
-- automatic attempt is planned: it failed for good (failed_at set) or waits for an operator (e-mail/SMS without a
-- provider; `error` says why). An operator re-queues a row with `update notifications set next_attempt_at = now()`.
alter table notifications
  add column attempts        integer not null default 0 check (attempts >= 0),
  add column next_attempt_at timestamptz,
  add column failed_at       timestamptz;

-- rows written before this migration and not yet sent are due now
update notifications set next_attempt_at = created_at where sent_at is null;
alter table notifications alter column next_attempt_at set default now();

create index notifications_due on notifications (next_attempt_at, id) where sent_at is null and next_attempt_at is not null;
