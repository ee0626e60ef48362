-- settle.lua: end a call: charge it from its holds, release the rest, and put the CDR + ledger event in the
-- outbox, all in one atomic step. Exactly once per call: a second settle (retry, sweeper race) is a no-op.
-- KEYS[1] {s<k>}:call:<callId>  KEYS[2] {s<k>}:done:<callId>  KEYS[3] {s<k>}:tenant:<t>:buckets  KEYS[4] {s<k>}:tenant:<t>:bmeta
-- KEYS[5] {s<k>}:leases  KEYS[6] {s<k>}:outbox  KEYS[7] {s<k>}:tenant:<t>:calls (set of live call ids: the call leaves it)
-- ARGV[1] callId  ARGV[2] now ms (event time)  ARGV[3] charge fen  ARGV[4] CDR JSON (chargeFen already in it)
-- ARGV[5] consumption order  ARGV[6] '1' = reclaim by the sweeper: only if the lease is still expired at ARGV[2]
-- ARGV[7] TTL of the done marker, seconds  ARGV[8] summary stored in the done marker ("chargeFen|billableSeconds")
-- Returns {'ok'} | {'dup', summary} | {'missing'} | {'leased'}; error 'charge exceeds hold' (nothing written).
-- Invariants: charge <= held (the engine bills at most the granted seconds), sum(debits) == charge, every fen
-- held returns to its bucket or is debited (also for a reservation left behind a done marker: returned, no debit);
-- the done marker is written in the same step as the outbox entry.
-- The event is built with cjson.encode of tables: user text in the CDR is never spliced into JSON.
local done = redis.call('GET', KEYS[2])
if done then
  -- settled or recorded already. A call state still here is a reservation the app never learnt of (authorize's reply
  -- lost with a failed master or link: the app refused the call and recorded it with record.lua): give its holds
  -- back untouched and drop it, or they would stay held forever (the sweeper finds it when its lease runs out)
  local raw = redis.call('HGETALL', KEYS[1])
  for i = 1, #raw, 2 do
    local id = string.match(raw[i], '^h:(%d+)$')
    if id and tonumber(raw[i + 1]) > 0 then redis.call('HINCRBY', KEYS[3], id, raw[i + 1]) end
  end
  if #raw > 0 then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[7], ARGV[1])
    redis.call('ZREM', KEYS[5], ARGV[1])
  end
  return { 'dup', done }
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[7], ARGV[1])
  return { 'missing' }
end
if ARGV[6] == '1' then
  local lease = redis.call('ZSCORE', KEYS[5], ARGV[1])
  if lease and tonumber(lease) > tonumber(ARGV[2]) then return { 'leased' } end
end
local chargeFen = tonumber(ARGV[3])
local held = tonumber(redis.call('HGET', KEYS[1], 'held'))
if chargeFen > held then return redis.error_reply('charge exceeds hold: ' .. ARGV[3] .. ' > ' .. tostring(held)) end
local raw = redis.call('HGETALL', KEYS[1])
local holds = {}
for i = 1, #raw, 2 do
  local id = string.match(raw[i], '^h:(%d+)$')
  if id then
    local m = redis.call('HGET', KEYS[4], id)
    local kind, vf, ex = 'paid', 0, nil
    if m then kind, vf, ex = parse_meta(m) end
    table.insert(holds, { id = id, amt = tonumber(raw[i + 1]), kind = kind, exp = ex, vf = vf })
  end
end
sort_buckets(holds, ARGV[5])
local left = chargeFen
local debits = {}
for _, h in ipairs(holds) do
  local d = math.min(left, h.amt)
  if d > 0 then
    table.insert(debits, { bucketId = h.id, amountFen = string.format('%d', d) })
    left = left - d
  end
  if h.amt - d > 0 then redis.call('HINCRBY', KEYS[3], h.id, h.amt - d) end
end
redis.call('XADD', KEYS[6], '*', 'event', call_event(ARGV[1], 'call.settled', ARGV[2], cjson.decode(ARGV[4]), debits))
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SET', KEYS[2], ARGV[8], 'EX', tonumber(ARGV[7]))
return { 'ok' }
