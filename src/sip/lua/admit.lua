-- admit.lua: admit one new call of a tenant against its CPS and concurrency limits, atomically, for all instances.
--
-- KEYS[1] calls set: ZSET member = callId, score = lease expiry (epoch ms). A crashed instance's calls drop out
--         when their lease runs out; live calls have their lease renewed by their instance.
-- KEYS[2] CPS counter of the current second (integer, expires after 2 s).
-- ARGV[1] callId
-- ARGV[2] now, epoch ms (integer)
-- ARGV[3] lease, ms (integer > 0)
-- ARGV[4] max concurrent calls (integer >= 0)
-- ARGV[5] max calls per second (integer >= 0)
-- Returns 'ok' | 'cps' | 'concurrency'.
-- Invariants: a refused call changes nothing (neither counter); an admitted call is in KEYS[1] exactly once
-- (re-admitting the same callId, e.g. a retransmission, does not take a second slot or a second CPS unit).
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 'ok'
end
local cps = tonumber(redis.call('GET', KEYS[2]) or '0')
if cps >= tonumber(ARGV[5]) then return 'cps' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'concurrency' end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 2000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 'ok'
