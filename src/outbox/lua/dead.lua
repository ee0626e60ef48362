-- dead.lua: move a poison outbox entry to the dead-letter stream, with the reason, and acknowledge it, in one step.
-- KEYS[1] {s<k>}:outbox (stream)  KEYS[2] {s<k>}:outbox:dead (stream)  KEYS[3] {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] consumer group  ARGV[2] now (epoch ms)  ARGV[3] stream id  ARGV[4] raw event text ('' if none)
-- ARGV[5] reason  ARGV[6] consumer name
-- Returns 1 when dead-lettered now, 0 when the entry was no longer pending (a racing consumer handled it).
-- Invariant: an entry leaves the pending list only together with its copy in the dead-letter stream; never dropped.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'event', ARGV[4], 'reason', ARGV[5], 'streamId', ARGV[3], 'consumer', ARGV[6], 'at', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
