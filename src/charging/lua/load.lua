-- load.lua: cold load of a tenant from PostgreSQL (ledger balances + tenant row) into Redis.
-- KEYS[1] tenant:<t>          hash status, start, end (epoch ms or ''), plan (rate plan id or ''), loaded
-- KEYS[2] tenant:<t>:buckets  hash bucketId -> available fen
-- KEYS[3] tenant:<t>:bmeta    hash bucketId -> "kind|validFromMs|expiresAtMs"
-- KEYS[4] tenant:<t>:credits  set of applied credit transfer ids
-- ARGV[1] status, ARGV[2] start, ARGV[3] end, ARGV[4] plan, ARGV[5] n buckets,
--   then n x (bucketId, balanceFen, meta), then m = count, then m transfer ids of credits already in the ledger.
-- State fields are always written (PostgreSQL is the record). Balances are written only when the tenant was
-- never loaded: once loaded, Redis is the live balance (holds and settled-but-not-yet-drained charges are only
-- there) and only `softswitch reconcile` may correct it. Returns 1 when balances were loaded, 0 otherwise.
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'start', ARGV[2], 'end', ARGV[3], 'plan', ARGV[4])
if redis.call('HEXISTS', KEYS[1], 'loaded') == 1 then return 0 end
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
  i = i + 3
end
local m = tonumber(ARGV[i])
for j = 1, m do redis.call('SADD', KEYS[4], ARGV[i + j]) end
redis.call('HSET', KEYS[1], 'loaded', '1')
return 1
