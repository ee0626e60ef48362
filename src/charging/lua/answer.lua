-- answer.lua: mark a call answered; its lease becomes answer + granted seconds + grace.
-- KEYS[1] {s<k>}:call:<callId>  KEYS[2] {s<k>}:leases
-- ARGV[1] callId  ARGV[2] answer ms  ARGV[3] lease grace ms
-- Returns granted seconds, or -1 when the call is unknown (settled or reclaimed).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local granted = tonumber(redis.call('HGET', KEYS[1], 'granted'))
redis.call('HSET', KEYS[1], 'state', 'answered', 'answer', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + granted * 1000 + tonumber(ARGV[3]), ARGV[1])
return granted
