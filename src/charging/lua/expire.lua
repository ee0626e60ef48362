-- expire.lua: clear the expired buckets of one tenant (bucket.expired events in the outbox) and schedule its next
-- expiry; run by the lease sweeper for tenants whose earliest expiry has passed, so idle tenants expire on time too.
-- KEYS[1] {s<k>}:tenant:<t>:buckets  KEYS[2] {s<k>}:tenant:<t>:bmeta  KEYS[3] {s<k>}:tenant:<t>:expseq  KEYS[4] {s<k>}:outbox  KEYS[5] {s<k>}:expiries
-- ARGV[1] tenantId  ARGV[2] now ms
-- Money held by live calls is not touched (it is expired when released). Returns the next expiry ms, or -1.
local now = tonumber(ARGV[2])
usable_buckets(KEYS[1], KEYS[2], KEYS[4], KEYS[3], ARGV[1], now, 'earliest-expiry')
local nextEx = nil
local meta = redis.call('HGETALL', KEYS[2])
for i = 1, #meta, 2 do
  local _, _, ex = parse_meta(meta[i + 1])
  if ex ~= nil and ex > now and (nextEx == nil or ex < nextEx) then nextEx = ex end
end
if nextEx then
  redis.call('ZADD', KEYS[5], nextEx, ARGV[1])
  return nextEx
end
redis.call('ZREM', KEYS[5], ARGV[1])
return -1
