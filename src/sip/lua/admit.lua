-- admit.lua: admit one new call of a tenant against its CPS and concurrency limits, atomically, for all instances.
--
-- KEYS[1] callsKey  {s<k>}:sip:calls:<t>: ZSET member = callId, score = lease expiry (epoch ms). A crashed
--                   instance's calls drop out when their lease runs out; live calls have their lease renewed by
--                   their instance.
-- KEYS[2] cpsKey    {s<k>}:sip:cps:<t>:<sec>: CPS counter of the current second (integer, expires after 2 s).
-- ARGV[1] callId
-- ARGV[2] now            epoch ms (integer)
-- ARGV[3] leaseMs        ms (integer > 0)
-- ARGV[4] maxConcurrent  max concurrent calls (integer >= 0)
-- ARGV[5] maxCps         max calls per second (integer >= 0)
-- Returns 'ok' | 'cps' | 'concurrency'.
-- Invariants: a refused call changes nothing (neither counter); an admitted call is in callsKey exactly once
-- (re-admitting the same callId, e.g. a retransmission, does not take a second slot or a second CPS unit).
local callsKey = KEYS[1]
local cpsKey = KEYS[2]
local callId = ARGV[1]
local now = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local maxConcurrent = tonumber(ARGV[4])
local maxCps = tonumber(ARGV[5])

redis.call('ZREMRANGEBYSCORE', callsKey, '-inf', now)
if redis.call('ZSCORE', callsKey, callId) then
  redis.call('ZADD', callsKey, now + leaseMs, callId)
  return 'ok'
end
local cps = tonumber(redis.call('GET', cpsKey) or '0')
if cps >= maxCps then return 'cps' end
if redis.call('ZCARD', callsKey) >= maxConcurrent then return 'concurrency' end
redis.call('INCR', cpsKey)
redis.call('PEXPIRE', cpsKey, 2000)
redis.call('ZADD', callsKey, now + leaseMs, callId)
redis.call('PEXPIRE', callsKey, leaseMs * 2)
return 'ok'
