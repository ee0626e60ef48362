-- expire.lua: clear the expired buckets of one tenant (bucket.expired events in the outbox) and schedule its next
-- expiry; run by the lease sweeper for tenants whose earliest expiry has passed, so idle tenants expire on time too.
-- KEYS[1] bucketsKey   {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[2] metaKey      {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[3] expSeqKey    {s<k>}:tenant:<t>:expseq (hash bucketId -> expiry event counter)
-- KEYS[4] outboxKey    {s<k>}:outbox (stream)
-- KEYS[5] expiriesKey  {s<k>}:expiries (zset tenantId -> earliest bucket expiry ms)
-- ARGV[1] tenantId
-- ARGV[2] now  epoch ms
-- Returns the next expiry (epoch ms), or -1 when no bucket of the tenant expires later.
-- Invariant: money held by live calls is not touched (it is expired when released); an expired bucket's available
-- fen leave it only together with their bucket.expired event.
local bucketsKey = KEYS[1]
local metaKey = KEYS[2]
local expSeqKey = KEYS[3]
local outboxKey = KEYS[4]
local expiriesKey = KEYS[5]
local tenantId = ARGV[1]
local now = tonumber(ARGV[2])

usable_buckets(bucketsKey, metaKey, outboxKey, expSeqKey, tenantId, now, 'earliest-expiry')
local nextEx = nil
local meta = redis.call('HGETALL', metaKey)
for i = 1, #meta, 2 do
  local _, _, ex = parse_meta(meta[i + 1])
  if ex ~= nil and ex > now and (nextEx == nil or ex < nextEx) then nextEx = ex end
end
if nextEx then
  redis.call('ZADD', expiriesKey, nextEx, tenantId)
  return nextEx
end
redis.call('ZREM', expiriesKey, tenantId)
return -1
