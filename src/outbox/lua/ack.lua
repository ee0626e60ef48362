-- ack.lua: acknowledge outbox entries whose events are committed in PostgreSQL, and remember when, so that they
-- are deleted from the stream only after a retention time (reconciliation relies on seeing recently acked entries).
-- KEYS[1] outboxKey  {s<k>}:outbox (stream)
-- KEYS[2] ackedKey   {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] group  consumer group
-- ARGV[2] now    epoch ms
-- ARGV[3..n] stream ids
-- Returns the number of entries acknowledged now (an id already acked by a racing consumer counts 0).
-- Invariant: an id is in outbox:acked only if it was acknowledged; XACK and ZADD happen in the same step.
local outboxKey = KEYS[1]
local ackedKey = KEYS[2]
local group = ARGV[1]
local now = ARGV[2]

local n = 0
for i = 3, #ARGV do
  if redis.call('XACK', outboxKey, group, ARGV[i]) == 1 then
    redis.call('ZADD', ackedKey, now, ARGV[i])
    n = n + 1
  end
end
return n
