-- dead.lua: move a poison outbox entry to the dead-letter stream, with the reason, and acknowledge it, in one step.
-- KEYS[1] outboxKey  {s<k>}:outbox (stream)
-- KEYS[2] deadKey    {s<k>}:outbox:dead (stream)
-- KEYS[3] ackedKey   {s<k>}:outbox:acked (zset stream id -> ack time, epoch ms)
-- ARGV[1] group      consumer group
-- ARGV[2] now        epoch ms
-- ARGV[3] streamId   id of the entry in the shard's outbox
-- ARGV[4] event      raw event text ('' if none)
-- ARGV[5] reason
-- ARGV[6] consumer   consumer name
-- Returns 1 when dead-lettered now, 0 when the entry was no longer pending (a racing consumer handled it).
-- Invariant: an entry leaves the pending list only together with its copy in the dead-letter stream; never dropped.
local outboxKey = KEYS[1]
local deadKey = KEYS[2]
local ackedKey = KEYS[3]
local group = ARGV[1]
local now = ARGV[2]
local streamId = ARGV[3]
local event = ARGV[4]
local reason = ARGV[5]
local consumer = ARGV[6]

if redis.call('XACK', outboxKey, group, streamId) == 0 then return 0 end
redis.call('XADD', deadKey, '*', 'event', event, 'reason', reason, 'streamId', streamId, 'consumer', consumer, 'at', now)
redis.call('ZADD', ackedKey, now, streamId)
return 1
