-- credit.lua: add a paid/gift credit (top-up, gift) to a tenant bucket, once per ledger transfer.
-- KEYS[1] {s<k>}:tenant:<t>:buckets  hash bucketId -> available fen (integer)
-- KEYS[2] {s<k>}:tenant:<t>:bmeta    hash bucketId -> "kind|validFromMs|expiresAtMs"
-- KEYS[3] {s<k>}:tenant:<t>:credits  set of ledger transfer ids already applied (read by reconcile)
-- KEYS[4] {s<k>}:tenant:<t>:creditamt hash transfer id -> "bucketId|amountFen" (lets a racing cold load add it on top)
-- KEYS[5] {s<k>}:expiries            zset tenantId -> earliest bucket expiry (ms) the sweeper must look at
-- ARGV[1] bucketId, ARGV[2] amount fen (integer > 0), ARGV[3] meta "kind|validFromMs|expiresAtMs", ARGV[4] transferId, ARGV[5] tenantId
-- Returns 1 when applied now, 0 when this transfer was applied before (idempotent: a retry never credits twice).
-- Invariant: available fen of a bucket = its ledger balance - holds of live calls - settled charges not yet in
-- the ledger (outbox backlog).
local amount = tonumber(ARGV[2])
if amount == nil or amount <= 0 or amount ~= math.floor(amount) then return redis.error_reply('bad amount') end
if redis.call('SADD', KEYS[3], ARGV[4]) == 0 then return 0 end
redis.call('HSET', KEYS[4], ARGV[4], ARGV[1] .. '|' .. ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], amount)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local ex = string.match(ARGV[3], '|(%d+)$')
if ex then redis.call('ZADD', KEYS[5], 'LT', ex, ARGV[5]) end
return 1
