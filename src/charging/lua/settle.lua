-- settle.lua: end a call: charge it from its holds, release the rest, and put the CDR + ledger event in the
-- outbox, all in one atomic step. Exactly once per call: a second settle (retry, sweeper race) is a no-op.
-- KEYS[1] callKey     {s<k>}:call:<callId> (hash of the call)
-- KEYS[2] doneKey     {s<k>}:done:<callId> (marker of a settled call)
-- KEYS[3] bucketsKey  {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[4] metaKey     {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[5] leasesKey   {s<k>}:leases (zset callId -> lease end ms)
-- KEYS[6] outboxKey   {s<k>}:outbox (stream)
-- KEYS[7] liveKey     {s<k>}:tenant:<t>:calls (set of live call ids: the call leaves it)
-- ARGV[1] callId
-- ARGV[2] now        epoch ms (event time)
-- ARGV[3] chargeFen  integer fen to charge (the CDR's chargeFen)
-- ARGV[4] cdrJson    CDR JSON (chargeFen already in it)
-- ARGV[5] order      consumption order
-- ARGV[6] reclaim    '1' = reclaim by the sweeper: only if the lease is still expired at `now`
-- ARGV[7] doneTtl    TTL of the done marker, seconds
-- ARGV[8] summary    stored in the done marker ("chargeFen|billableSeconds")
-- Returns {'ok'} | {'dup', summary} | {'missing'} | {'leased'}; error 'charge exceeds hold' (nothing written).
-- Invariants: charge <= held (the engine bills at most the granted seconds), sum(debits) == charge, every fen
-- held returns to its bucket or is debited (also for a reservation left behind a done marker: returned, no debit);
-- the done marker is written in the same step as the outbox entry (settlement is idempotent by call id).
-- The event is built with cjson.encode of tables: user text in the CDR is never spliced into JSON.
local callKey = KEYS[1]
local doneKey = KEYS[2]
local bucketsKey = KEYS[3]
local metaKey = KEYS[4]
local leasesKey = KEYS[5]
local outboxKey = KEYS[6]
local liveKey = KEYS[7]
local callId = ARGV[1]
local now = ARGV[2]
local chargeFen = ARGV[3]
local cdrJson = ARGV[4]
local order = ARGV[5]
local reclaim = ARGV[6]
local doneTtl = ARGV[7]
local summary = ARGV[8]

local done = redis.call('GET', doneKey)
if done then
  -- settled or recorded already. A call state still here is a reservation the app never learnt of (authorize's reply
  -- lost with a failed master or link: the app refused the call and recorded it with record.lua): give its holds
  -- back untouched and drop it, or they would stay held forever (the sweeper finds it when its lease runs out)
  local raw = redis.call('HGETALL', callKey)
  for i = 1, #raw, 2 do
    local id = string.match(raw[i], '^h:(%d+)$')
    if id and tonumber(raw[i + 1]) > 0 then redis.call('HINCRBY', bucketsKey, id, raw[i + 1]) end
  end
  if #raw > 0 then
    redis.call('DEL', callKey)
    redis.call('SREM', liveKey, callId)
    redis.call('ZREM', leasesKey, callId)
  end
  return { 'dup', done }
end
if redis.call('EXISTS', callKey) == 0 then
  redis.call('SREM', liveKey, callId)
  return { 'missing' }
end
if reclaim == '1' then
  local lease = redis.call('ZSCORE', leasesKey, callId)
  if lease and tonumber(lease) > tonumber(now) then return { 'leased' } end
end
local fen = tonumber(chargeFen)
local held = tonumber(redis.call('HGET', callKey, 'held'))
if fen > held then return redis.error_reply('charge exceeds hold: ' .. chargeFen .. ' > ' .. tostring(held)) end
local raw = redis.call('HGETALL', callKey)
local holds = {}
for i = 1, #raw, 2 do
  local id = string.match(raw[i], '^h:(%d+)$')
  if id then
    local m = redis.call('HGET', metaKey, id)
    local kind, vf, ex = 'paid', 0, nil
    if m then kind, vf, ex = parse_meta(m) end
    table.insert(holds, { id = id, amt = tonumber(raw[i + 1]), kind = kind, exp = ex, vf = vf })
  end
end
sort_buckets(holds, order)
local left = fen
local debits = {}
for _, h in ipairs(holds) do
  local d = math.min(left, h.amt)
  if d > 0 then
    table.insert(debits, { bucketId = h.id, amountFen = string.format('%d', d) })
    left = left - d
  end
  if h.amt - d > 0 then redis.call('HINCRBY', bucketsKey, h.id, h.amt - d) end
end
redis.call('XADD', outboxKey, '*', 'event', call_event(callId, 'call.settled', now, cjson.decode(cdrJson), debits))
redis.call('DEL', callKey)
redis.call('SREM', liveKey, callId)
redis.call('ZREM', leasesKey, callId)
redis.call('SET', doneKey, summary, 'EX', tonumber(doneTtl))
return { 'ok' }
