-- credit.lua: add a paid/gift credit (top-up, gift) to a tenant bucket, once per ledger transfer.
-- KEYS[1] bucketsKey        {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen, integer)
-- KEYS[2] metaKey           {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[3] creditsKey        {s<k>}:tenant:<t>:credits (set of ledger transfer ids already applied; read by reconcile)
-- KEYS[4] creditAmountsKey  {s<k>}:tenant:<t>:creditamt (hash transfer id -> "bucketId|amountFen"; lets a racing
--                           cold load add it on top)
-- KEYS[5] expiriesKey       {s<k>}:expiries (zset tenantId -> earliest bucket expiry ms the sweeper must look at)
-- ARGV[1] bucketId
-- ARGV[2] amountFen   integer > 0
-- ARGV[3] meta        "kind|validFromMs|expiresAtMs"
-- ARGV[4] transferId  ledger transfer id (idempotency)
-- ARGV[5] tenantId
-- Returns 1 when applied now, 0 when this transfer was applied before (idempotent: a retry never credits twice).
-- Invariant: available fen of a bucket = its ledger balance - holds of live calls - settled charges not yet in
-- the ledger (outbox backlog).
local bucketsKey = KEYS[1]
local metaKey = KEYS[2]
local creditsKey = KEYS[3]
local creditAmountsKey = KEYS[4]
local expiriesKey = KEYS[5]
local bucketId = ARGV[1]
local amountFen = ARGV[2]
local meta = ARGV[3]
local transferId = ARGV[4]
local tenantId = ARGV[5]

local amount = tonumber(amountFen)
if amount == nil or amount <= 0 or amount ~= math.floor(amount) then return redis.error_reply('bad amount') end
if redis.call('SADD', creditsKey, transferId) == 0 then return 0 end
redis.call('HSET', creditAmountsKey, transferId, bucketId .. '|' .. amountFen)
redis.call('HINCRBY', bucketsKey, bucketId, amount)
redis.call('HSET', metaKey, bucketId, meta)
local ex = string.match(meta, '|(%d+)$')
if ex then redis.call('ZADD', expiriesKey, 'LT', ex, tenantId) end
return 1
