-- 110_late_fee_reversals: a payment recorded with a date before late fees already posted for later days takes back
-- the late fee of the days it covered (contract art. 3.2: the fee runs on what is overdue). The posted late fee is
-- never changed: each reversal is a new ledger transfer revenue:late_fee -> tenant:<t>:receivable (kind adjustment,
-- key late_reversal:<late fee receivable id>:<payment id>) and one row here, which lowers what is outstanding on
-- that late fee (outstanding = amount - allocations - reversals). Immutable.
create table receivable_reversals (
  id             bigserial primary key,
  receivable_id  bigint not null references receivables(id),  -- the late fee reduced
  payment_id     bigint not null references payments(id),     -- the back-dated payment that made it too high
  amount_fen     bigint not null check (amount_fen > 0),
  transfer_id    bigint not null unique references ledger_transfers(id),
  created_at     timestamptz not null default now(),
  unique (receivable_id, payment_id)
);
create index receivable_reversals_receivable on receivable_reversals (receivable_id);
create trigger receivable_reversals_immutable before update or delete on receivable_reversals for each row execute function refuse_change();
