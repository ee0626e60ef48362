-- load.lua: cold load of a tenant from PostgreSQL (ledger balances + tenant row) into Redis.
-- KEYS[1] tenantKey         {s<k>}:tenant:<t> (hash status, start, end (epoch ms or ''), plan (rate plan id or ''), loaded)
-- KEYS[2] bucketsKey        {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[3] metaKey           {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[4] creditsKey        {s<k>}:tenant:<t>:credits (set of applied credit transfer ids)
-- KEYS[5] creditAmountsKey  {s<k>}:tenant:<t>:creditamt (hash transferId -> "bucketId|amountFen", written by credit.lua)
-- KEYS[6] expiriesKey       {s<k>}:expiries (zset tenantId -> earliest bucket expiry ms)
-- ARGV[1] status
-- ARGV[2] periodStart  epoch ms or ''
-- ARGV[3] periodEnd    epoch ms or ''
-- ARGV[4] plan         rate plan id or ''
-- ARGV[5] nBuckets     n, then n x (bucketId, ledger balance fen, meta), then m, then m x (transferId, bucketId,
--                      amountFen) of the credit transfers the ledger balances above include, then (last) the tenantId.
-- State fields are always written (PostgreSQL is the record). Balances are written only when the tenant was
-- never loaded: once loaded, Redis is the live balance (holds and settled-but-not-yet-drained charges are only
-- there) and only `softswitch reconcile` may correct it.
-- A credit applied to Redis (applyCredit) while this load's PostgreSQL snapshot was being read is not in the
-- ledger balances passed here: it is added on top, so a load racing a top-up loses nothing and counts nothing twice.
-- Units: money in integer fen. Returns 1 when balances were loaded, 0 otherwise.
-- Invariant: the balances of a tenant Redis already holds are never overwritten, and a credit transfer is counted
-- once (in the ledger balance passed here, or on top from creditAmountsKey, never both).
local tenantKey = KEYS[1]
local bucketsKey = KEYS[2]
local metaKey = KEYS[3]
local creditsKey = KEYS[4]
local creditAmountsKey = KEYS[5]
local expiriesKey = KEYS[6]
local status = ARGV[1]
local periodStart = ARGV[2]
local periodEnd = ARGV[3]
local plan = ARGV[4]
local nBuckets = tonumber(ARGV[5])
local tenantId = ARGV[#ARGV]

redis.call('HSET', tenantKey, 'status', status, 'start', periodStart, 'end', periodEnd, 'plan', plan)
if redis.call('HEXISTS', tenantKey, 'loaded') == 1 then return 0 end
local i = 6
local bal = {}
for _ = 1, nBuckets do
  bal[ARGV[i]] = tonumber(ARGV[i + 1])
  redis.call('HSET', metaKey, ARGV[i], ARGV[i + 2])
  local ex = string.match(ARGV[i + 2], '|(%d+)$')
  if ex then redis.call('ZADD', expiriesKey, 'LT', ex, tenantId) end
  i = i + 3
end
local m = tonumber(ARGV[i])
local inLedger = {}
for j = 0, m - 1 do
  local k = i + 1 + j * 3
  inLedger[ARGV[k]] = true
  redis.call('SADD', creditsKey, ARGV[k])
end
local applied = redis.call('HGETALL', creditAmountsKey)
for j = 1, #applied, 2 do
  if not inLedger[applied[j]] then
    local b, amt = string.match(applied[j + 1], '^(%d+)|(%d+)$')
    bal[b] = (bal[b] or 0) + tonumber(amt)
  end
end
redis.call('DEL', bucketsKey)
for b, v in pairs(bal) do redis.call('HSET', bucketsKey, b, string.format('%d', v)) end
redis.call('HSET', tenantKey, 'loaded', '1')
return 1
