-- replay.lua: put a dead-lettered event back into the outbox (after the cause was fixed), in one step.
-- KEYS[1] deadKey    {s<k>}:outbox:dead (stream)
-- KEYS[2] outboxKey  {s<k>}:outbox (stream)
-- ARGV[1] deadId     id of the entry in the shard's dead-letter stream
-- Returns the new outbox stream id, or false when there is no such dead entry (or it has no event text).
-- Invariant: the event is in exactly one of the two streams at any time; if it is still poison, the consumer
-- dead-letters it again with a fresh reason.
local deadKey = KEYS[1]
local outboxKey = KEYS[2]
local deadId = ARGV[1]

local e = redis.call('XRANGE', deadKey, deadId, deadId)
if #e == 0 then return false end
local f = e[1][2]
local ev = nil
for i = 1, #f, 2 do if f[i] == 'event' then ev = f[i + 1] end end
if ev == nil or ev == '' then return false end
local id = redis.call('XADD', outboxKey, '*', 'event', ev)
redis.call('XDEL', deadKey, deadId)
return id
