-- load.lua: cold load of a tenant from PostgreSQL (ledger balances + tenant row) into Redis.
-- KEYS[1] {s<k>}:tenant:<t>          hash status, start, end (epoch ms or ''), plan (rate plan id or ''), loaded
-- KEYS[2] {s<k>}:tenant:<t>:buckets  hash bucketId -> available fen
-- KEYS[3] {s<k>}:tenant:<t>:bmeta    hash bucketId -> "kind|validFromMs|expiresAtMs"
-- KEYS[4] {s<k>}:tenant:<t>:credits  set of applied credit transfer ids
-- KEYS[5] {s<k>}:tenant:<t>:creditamt hash transferId -> "bucketId|amountFen" written by credit.lua
-- KEYS[6] {s<k>}:expiries           zset tenantId -> earliest bucket expiry (ms)
-- ARGV[1] status, ARGV[2] start, ARGV[3] end, ARGV[4] plan, ARGV[5] n buckets,
--   then n x (bucketId, ledger balance fen, meta), then m, then m x (transferId, bucketId, amountFen) of the credit
--   transfers the ledger balances above include, then (last) the tenantId.
-- State fields are always written (PostgreSQL is the record). Balances are written only when the tenant was
-- never loaded: once loaded, Redis is the live balance (holds and settled-but-not-yet-drained charges are only
-- there) and only `softswitch reconcile` may correct it.
-- A credit applied to Redis (applyCredit) while this load's PostgreSQL snapshot was being read is not in the
-- ledger balances passed here: it is added on top, so a load racing a top-up loses nothing and counts nothing twice.
-- Returns 1 when balances were loaded, 0 otherwise.
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'start', ARGV[2], 'end', ARGV[3], 'plan', ARGV[4])
if redis.call('HEXISTS', KEYS[1], 'loaded') == 1 then return 0 end
local n = tonumber(ARGV[5])
local i = 6
local bal = {}
for _ = 1, n do
  bal[ARGV[i]] = tonumber(ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
  local ex = string.match(ARGV[i + 2], '|(%d+)$')
  if ex then redis.call('ZADD', KEYS[6], 'LT', ex, ARGV[#ARGV]) end
  i = i + 3
end
local m = tonumber(ARGV[i])
local inLedger = {}
for j = 0, m - 1 do
  local k = i + 1 + j * 3
  inLedger[ARGV[k]] = true
  redis.call('SADD', KEYS[4], ARGV[k])
end
local applied = redis.call('HGETALL', KEYS[5])
for j = 1, #applied, 2 do
  if not inLedger[applied[j]] then
    local b, amt = string.match(applied[j + 1], '^(%d+)|(%d+)$')
    bal[b] = (bal[b] or 0) + tonumber(amt)
  end
end
redis.call('DEL', KEYS[2])
for b, v in pairs(bal) do redis.call('HSET', KEYS[2], b, string.format('%d', v)) end
redis.call('HSET', KEYS[1], 'loaded', '1')
return 1
