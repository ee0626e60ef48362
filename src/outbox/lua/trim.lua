-- trim.lua: delete outbox entries acknowledged before a cutoff (only acked entries are ever deleted).
-- KEYS[1] {s<k>}:outbox (stream)  KEYS[2] {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] cutoff (epoch ms): entries acked at or before it go  ARGV[2] most entries deleted per call
-- Returns the number of entries deleted.
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return 0 end
redis.call('XDEL', KEYS[1], unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
return #ids
