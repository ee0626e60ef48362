-- ack.lua: acknowledge outbox entries whose events are committed in PostgreSQL, and remember when, so that they
-- are deleted from the stream only after a retention time (reconciliation relies on seeing recently acked entries).
-- KEYS[1] {s<k>}:outbox (stream)  KEYS[2] {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] consumer group  ARGV[2] now (epoch ms)  ARGV[3..n] stream ids
-- Returns the number of entries acknowledged now (an id already acked by a racing consumer counts 0).
-- Invariant: an id is in outbox:acked only if it was acknowledged; XACK and ZADD happen in the same step.
local n = 0
for i = 3, #ARGV do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
    n = n + 1
  end
end
return n
