-- trim.lua: delete outbox entries acknowledged before a cutoff (only acked entries are ever deleted).
-- KEYS[1] outboxKey  {s<k>}:outbox (stream)
-- KEYS[2] ackedKey   {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] cutoff     epoch ms: entries acked at or before it go
-- ARGV[2] maxCount   most entries deleted per call
-- Returns the number of entries deleted.
-- Invariant: an entry not in outbox:acked (never acknowledged) is never deleted.
local outboxKey = KEYS[1]
local ackedKey = KEYS[2]
local cutoff = ARGV[1]
local maxCount = tonumber(ARGV[2])

local ids = redis.call('ZRANGEBYSCORE', ackedKey, '-inf', cutoff, 'LIMIT', 0, maxCount)
if #ids == 0 then return 0 end
redis.call('XDEL', outboxKey, unpack(ids))
redis.call('ZREM', ackedKey, unpack(ids))
return #ids
