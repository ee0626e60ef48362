-- repair.lua: correct a tenant's Redis balances by the drift reconciliation measured, atomically, only if no
-- money already reserved by a live call would be taken back.
-- KEYS[1] tenantKey    {s<k>}:tenant:<t> (hash: loaded)
-- KEYS[2] bucketsKey   {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[3] metaKey      {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[4] creditsKey   {s<k>}:tenant:<t>:credits (ledger credit transfer ids already applied)
-- KEYS[5] expiriesKey  {s<k>}:expiries of the tenant's shard (zset tenantId -> earliest bucket expiry ms the sweeper
--                      looks at)
-- ARGV[1] n            number of buckets, then n x (bucketId, delta fen (integer, may be negative), meta
--                      "kind|validFromMs|expiresAtMs" or '' for a bucket the ledger does not know), then m, then m
--                      credit transfer ids that were in the ledger but not in creditsKey when the drift was
--                      measured, then the tenant id.
-- Returns {'ok'} | {'not_loaded'} | {'moved', transferId} (a missing credit arrived since: measure again)
--       | {'held', bucketId, availFen, deltaFen} (the correction would take back more than is available: the rest
--         is reserved by live calls; nothing was changed).
-- Why a delta and not an absolute value: every charging script keeps (available + held + outbox - ledger) constant,
-- so a drift measured at one instant is still the drift now; adding -drift is right whatever ran in between.
-- Units: money in integer fen.
-- Invariant: no bucket goes below 0; the credit ids are recorded in the same step, so a late applyCredit of one of
-- them is a no-op and cannot credit twice.
local tenantKey = KEYS[1]
local bucketsKey = KEYS[2]
local metaKey = KEYS[3]
local creditsKey = KEYS[4]
local expiriesKey = KEYS[5]
local n = tonumber(ARGV[1])

if redis.call('HEXISTS', tenantKey, 'loaded') == 0 then return { 'not_loaded' } end
local m = tonumber(ARGV[2 + 3 * n])
for j = 1, m do
  local id = ARGV[2 + 3 * n + j]
  if redis.call('SISMEMBER', creditsKey, id) == 1 then return { 'moved', id } end
end
for i = 0, n - 1 do
  local b, delta = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i])
  local avail = tonumber(redis.call('HGET', bucketsKey, b) or '0')
  if avail + delta < 0 then return { 'held', b, string.format('%d', avail), string.format('%d', delta) } end
end
for i = 0, n - 1 do
  local b, delta = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i])
  redis.call('HINCRBY', bucketsKey, b, delta)
  local meta = ARGV[4 + 3 * i]
  if meta ~= '' then
    redis.call('HSET', metaKey, b, meta)
    -- money put back into an expiring bucket must be expired on time, as credit.lua arranges for a credit
    local ex = string.match(meta, '|(%d+)$')
    if ex and delta > 0 then redis.call('ZADD', expiriesKey, 'LT', ex, ARGV[3 + 3 * n + m]) end
  end
end
for j = 1, m do redis.call('SADD', creditsKey, ARGV[2 + 3 * n + j]) end
return { 'ok' }
