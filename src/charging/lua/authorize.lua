-- authorize.lua: admit a call and reserve its first slice, in one atomic step.
-- KEYS[1] {s<k>}:tenant:<t> (hash status,start,end,plan,loaded)  KEYS[2] {s<k>}:tenant:<t>:buckets  KEYS[3] {s<k>}:tenant:<t>:bmeta
-- KEYS[4] {s<k>}:tenant:<t>:expseq  KEYS[5] {s<k>}:call:<callId> (hash)  KEYS[6] {s<k>}:done:<callId>  KEYS[7] {s<k>}:leases (zset callId ->
-- lease end ms)  KEYS[8] {s<k>}:outbox (stream)  KEYS[9] {s<k>}:tenant:<t>:calls (set of the tenant's live call ids)
-- ARGV[1] callId  ARGV[2] tenantId  ARGV[3] now ms  ARGV[4] rate plan id the engine rated with
-- ARGV[5] price micro-CNY/min  ARGV[6] connect fee micro-CNY  ARGV[7] initial incr s  ARGV[8] subsequent incr s
-- ARGV[9] minimum s  ARGV[10] rounding  ARGV[11] first slice s  ARGV[12] max call s  ARGV[13] consumption order
-- ARGV[14] instance id  ARGV[15] lease end ms while pending  ARGV[16] AppliedRate JSON  ARGV[17] called number
-- Returns {'ok', grantedSeconds, heldFen, maxSeconds} | {'refuse', reason, detail} | {'plan', actualPlanId}
--       | {'unloaded'} | {'exists', grantedSeconds, heldFen} | {'done'}
-- Invariants: held fen of the call = charge(grantedSeconds) and was moved out of the buckets' available fen in this
-- same step, so the sum over live calls of held fen never exceeds the tenant's credit; no bucket goes below 0.
-- Fair sharing: the first slice takes at most fair_budget() of what is available (lib.lua), so while one billable
-- increment is available a new call is admitted (docs/charging.md, "Fair sharing of a short balance").
if redis.call('EXISTS', KEYS[6]) == 1 then return { 'done' } end
if redis.call('EXISTS', KEYS[5]) == 1 then
  local v = redis.call('HMGET', KEYS[5], 'granted', 'held')
  return { 'exists', tonumber(v[1]), tonumber(v[2]) }
end
local st = redis.call('HMGET', KEYS[1], 'status', 'start', 'end', 'plan', 'loaded')
if not st[5] then return { 'unloaded' } end
local now = tonumber(ARGV[3])
if st[1] ~= 'active' then return { 'refuse', 'suspended', 'tenant is ' .. tostring(st[1]) } end
if st[2] and st[2] ~= '' and now < tonumber(st[2]) then return { 'refuse', 'period_not_started', 'service period starts at ' .. st[2] } end
if st[3] and st[3] ~= '' and now >= tonumber(st[3]) then return { 'refuse', 'period_ended', 'service period ended at ' .. st[3] } end
if (st[4] or '') ~= ARGV[4] then return { 'plan', st[4] or '' } end
if ARGV[4] == '' then return { 'refuse', 'no_rate', 'tenant has no rate plan' } end
local r = { price = tonumber(ARGV[5]), cf = tonumber(ARGV[6]), init = tonumber(ARGV[7]), sub = tonumber(ARGV[8]),
            min = tonumber(ARGV[9]), rnd = ARGV[10] }
local list, total = usable_buckets(KEYS[2], KEYS[3], KEYS[8], KEYS[4], ARGV[2], now, ARGV[13])
if charge(1, r) > total then
  return { 'refuse', 'no_balance', 'available ' .. string.format('%d', total) .. ' fen < first increment ' .. string.format('%d', charge(1, r)) .. ' fen' }
end
local slice = tonumber(ARGV[11])
local maxCall = tonumber(ARGV[12])
if slice > maxCall then slice = maxCall end
local liveCalls = redis.call('SCARD', KEYS[9]) + 1
local granted = affordable(1, slice, fair_budget(total, 0, liveCalls, charge(1, r)), r)
local held = charge(granted, r)
local maxSeconds = affordable(granted, maxCall, total, r)
take(KEYS[2], KEYS[5], list, held)
redis.call('SADD', KEYS[9], ARGV[1])
redis.call('HSET', KEYS[5], 'tenant', ARGV[2], 'inst', ARGV[14], 'state', 'pending', 'granted', granted, 'held', held,
  'at', ARGV[3], 'price', ARGV[5], 'cf', ARGV[6], 'init', ARGV[7], 'sub', ARGV[8], 'min', ARGV[9], 'rnd', ARGV[10],
  'rate', ARGV[16], 'callee', ARGV[17])
redis.call('ZADD', KEYS[7], ARGV[15], ARGV[1])
return { 'ok', granted, held, maxSeconds }
