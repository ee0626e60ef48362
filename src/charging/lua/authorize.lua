-- authorize.lua: admit a call and reserve its first slice, in one atomic step.
-- KEYS[1] tenantKey   {s<k>}:tenant:<t> (hash status, start, end, plan, loaded)
-- KEYS[2] bucketsKey  {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[3] metaKey     {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[4] expSeqKey   {s<k>}:tenant:<t>:expseq (hash bucketId -> expiry event counter)
-- KEYS[5] callKey     {s<k>}:call:<callId> (hash of the call)
-- KEYS[6] doneKey     {s<k>}:done:<callId> (marker of a settled call)
-- KEYS[7] leasesKey   {s<k>}:leases (zset callId -> lease end ms)
-- KEYS[8] outboxKey   {s<k>}:outbox (stream; bucket.expired events of buckets found expired)
-- KEYS[9] liveKey     {s<k>}:tenant:<t>:calls (set of the tenant's live call ids)
-- ARGV[1] callId
-- ARGV[2] tenantId
-- ARGV[3] now              epoch ms
-- ARGV[4] planId           rate plan id the engine rated with ('' = none known to the engine)
-- ARGV[5] price            integer micro-CNY per minute
-- ARGV[6] connectFee       integer micro-CNY
-- ARGV[7] initIncr         initial increment, s
-- ARGV[8] subIncr          subsequent increment, s
-- ARGV[9] minSeconds       minimum billable, s
-- ARGV[10] rounding        'up' | 'down' | 'half-up'
-- ARGV[11] firstSlice      s asked for the first slice
-- ARGV[12] maxCall         s, the longest grant the call may reach (maxCallSeconds, and exact in Lua doubles)
-- ARGV[13] order           consumption order
-- ARGV[14] instanceId      owner of the call
-- ARGV[15] pendingLeaseEnd epoch ms: the call's lease while it rings
-- ARGV[16] rateJson        AppliedRate JSON (the CDR's rate, read back by finish and the sweeper)
-- ARGV[17] callee          called number (rating digits)
-- Returns {'ok', grantedSeconds, heldFen, maxSeconds} | {'refuse', reason, detail} | {'plan', actualPlanId}
--       | {'unloaded'} | {'exists', grantedSeconds, heldFen} | {'done'}
-- Units: money in integer fen, prices in integer micro-CNY, times in epoch ms, durations in whole seconds.
-- Invariants: held fen of the call = charge(grantedSeconds) and was moved out of the buckets' available fen in this
-- same step, so the sum over live calls of held fen never exceeds the tenant's credit; no bucket goes below 0;
-- 1 <= grantedSeconds <= min(firstSlice, maxCall).
-- Fair sharing: the first slice takes at most fair_budget() of what is available (lib.lua), so while one billable
-- increment is available a new call is admitted (docs/charging.md, "Fair sharing of a short balance").
local tenantKey = KEYS[1]
local bucketsKey = KEYS[2]
local metaKey = KEYS[3]
local expSeqKey = KEYS[4]
local callKey = KEYS[5]
local doneKey = KEYS[6]
local leasesKey = KEYS[7]
local outboxKey = KEYS[8]
local liveKey = KEYS[9]
local callId = ARGV[1]
local tenantId = ARGV[2]
local now = ARGV[3]
local planId = ARGV[4]
local price = ARGV[5]
local connectFee = ARGV[6]
local initIncr = ARGV[7]
local subIncr = ARGV[8]
local minSeconds = ARGV[9]
local rounding = ARGV[10]
local firstSlice = ARGV[11]
local maxCall = ARGV[12]
local order = ARGV[13]
local instanceId = ARGV[14]
local pendingLeaseEnd = ARGV[15]
local rateJson = ARGV[16]
local callee = ARGV[17]

if redis.call('EXISTS', doneKey) == 1 then return { 'done' } end
if redis.call('EXISTS', callKey) == 1 then
  local v = redis.call('HMGET', callKey, 'granted', 'held')
  return { 'exists', tonumber(v[1]), tonumber(v[2]) }
end
local st = redis.call('HMGET', tenantKey, 'status', 'start', 'end', 'plan', 'loaded')
if not st[5] then return { 'unloaded' } end
local nowMs = tonumber(now)
if st[1] ~= 'active' then return { 'refuse', 'suspended', 'tenant is ' .. tostring(st[1]) } end
if st[2] and st[2] ~= '' and nowMs < tonumber(st[2]) then return { 'refuse', 'period_not_started', 'service period starts at ' .. st[2] } end
if st[3] and st[3] ~= '' and nowMs >= tonumber(st[3]) then return { 'refuse', 'period_ended', 'service period ended at ' .. st[3] } end
if (st[4] or '') ~= planId then return { 'plan', st[4] or '' } end
if planId == '' then return { 'refuse', 'no_rate', 'tenant has no rate plan' } end
local r = { price = tonumber(price), cf = tonumber(connectFee), init = tonumber(initIncr), sub = tonumber(subIncr),
            min = tonumber(minSeconds), rnd = rounding }
local list, total = usable_buckets(bucketsKey, metaKey, outboxKey, expSeqKey, tenantId, nowMs, order)
if charge(1, r) > total then
  return { 'refuse', 'no_balance', 'available ' .. string.format('%d', total) .. ' fen < first increment ' .. string.format('%d', charge(1, r)) .. ' fen' }
end
local slice = tonumber(firstSlice)
local longest = tonumber(maxCall)
if slice > longest then slice = longest end
local liveCalls = redis.call('SCARD', liveKey) + 1
local granted = affordable(1, slice, fair_budget(total, 0, liveCalls, charge(1, r)), r)
local held = charge(granted, r)
local maxSeconds = affordable(granted, longest, total, r)
take(bucketsKey, callKey, list, held)
redis.call('SADD', liveKey, callId)
redis.call('HSET', callKey, 'tenant', tenantId, 'inst', instanceId, 'state', 'pending', 'granted', granted, 'held', held,
  'at', now, 'price', price, 'cf', connectFee, 'init', initIncr, 'sub', subIncr, 'min', minSeconds, 'rnd', rounding,
  'rate', rateJson, 'callee', callee)
redis.call('ZADD', leasesKey, pendingLeaseEnd, callId)
return { 'ok', granted, held, maxSeconds }
