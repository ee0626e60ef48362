-- extend.lua: grow a live call's reservation up to `target` seconds (the next slice), or to what is affordable.
-- KEYS[1] tenant:<t>  KEYS[2] tenant:<t>:buckets  KEYS[3] tenant:<t>:bmeta  KEYS[4] tenant:<t>:expseq
-- KEYS[5] call:<callId>  KEYS[6] leases  KEYS[7] outbox
-- ARGV[1] callId  ARGV[2] tenantId  ARGV[3] now ms  ARGV[4] target granted seconds (absolute, from answer)
-- ARGV[5] consumption order  ARGV[6] lease grace ms
-- Returns {grantedSeconds, final} with final = 1 when less than target was granted (credit exhausted, tenant
-- not active or period over), or {-1, 1} when the call is unknown (settled or reclaimed).
-- Invariant kept: held = charge(granted); the delta charge(new) - charge(old) is taken from the buckets' available
-- fen in this step and never exceeds it.
if redis.call('EXISTS', KEYS[5]) == 0 then return { -1, 1 } end
local now = tonumber(ARGV[3])
local granted = tonumber(redis.call('HGET', KEYS[5], 'granted'))
local target = tonumber(ARGV[4])
if target <= granted then return { granted, 0 } end
local st = redis.call('HMGET', KEYS[1], 'status', 'end')
local final = 0
if st[1] ~= 'active' then return { granted, 1 } end
local answerAt = tonumber(redis.call('HGET', KEYS[5], 'answer') or '')
-- the grant never runs past the end of the service period
if st[2] and st[2] ~= '' and answerAt then
  local limit = math.floor((tonumber(st[2]) - answerAt) / 1000)
  if limit < target then target = limit; final = 1 end
  if target <= granted then return { granted, 1 } end
end
local r = call_rate(KEYS[5])
local held = tonumber(redis.call('HGET', KEYS[5], 'held'))
local list, total = usable_buckets(KEYS[2], KEYS[3], KEYS[7], KEYS[4], ARGV[2], now, ARGV[5])
local g = affordable(granted, target, held + total, r)
if g < target then final = 1 end
if g > granted then
  local newHeld = charge(g, r)
  take(KEYS[2], KEYS[5], list, newHeld - held)
  redis.call('HSET', KEYS[5], 'granted', g, 'held', newHeld)
  if answerAt then redis.call('ZADD', KEYS[6], answerAt + g * 1000 + tonumber(ARGV[6]), ARGV[1]) end
end
return { g, final }
