-- answer.lua: mark a call answered; its lease becomes answer + granted seconds + grace.
-- KEYS[1] callKey    {s<k>}:call:<callId> (hash of the call)
-- KEYS[2] leasesKey  {s<k>}:leases (zset callId -> lease end, epoch ms)
-- ARGV[1] callId
-- ARGV[2] answerAt   epoch ms of the 200 OK
-- ARGV[3] graceMs    lease grace, ms
-- Returns granted seconds (from answer), or -1 when the call is unknown (settled or reclaimed).
-- Invariant: an answered call's lease never ends before its grant does, so no sweeper reclaims a call that may
-- still talk on what it was granted.
local callKey = KEYS[1]
local leasesKey = KEYS[2]
local callId = ARGV[1]
local answerAt = ARGV[2]
local graceMs = ARGV[3]

if redis.call('EXISTS', callKey) == 0 then return -1 end
local granted = tonumber(redis.call('HGET', callKey, 'granted'))
redis.call('HSET', callKey, 'state', 'answered', 'answer', answerAt)
redis.call('ZADD', leasesKey, tonumber(answerAt) + granted * 1000 + tonumber(graceMs), callId)
return granted
