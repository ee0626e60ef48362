-- repair.lua: correct a tenant's Redis balances by the drift reconciliation measured, atomically, only if no
-- money already reserved by a live call would be taken back.
-- KEYS[1] tenant:<t>  KEYS[2] tenant:<t>:buckets (bucketId -> available fen)  KEYS[3] tenant:<t>:bmeta
-- KEYS[4] tenant:<t>:credits (ledger credit transfer ids already applied)
-- KEYS[5] {s<k>}:expiries of the tenant's shard (zset tenantId -> earliest bucket expiry ms the sweeper looks at)
-- ARGV[1] n, then n x (bucketId, delta fen (integer, may be negative), meta "kind|validFromMs|expiresAtMs" or ''
--   for a bucket the ledger does not know),
--   then m, then m credit transfer ids that were in the ledger but not in KEYS[4] when the drift was measured,
--   then the tenant id.
-- Returns {'ok'} | {'not_loaded'} | {'moved', transferId} (a missing credit arrived since: measure again)
--       | {'held', bucketId, availFen, deltaFen} (the correction would take back more than is available: the rest
--         is reserved by live calls; nothing was changed).
-- Why a delta and not an absolute value: every charging script keeps (available + held + outbox - ledger) constant,
-- so a drift measured at one instant is still the drift now; adding -drift is right whatever ran in between.
-- Invariant: no bucket goes below 0; the credit ids are recorded in the same step, so a late applyCredit of one of
-- them is a no-op and cannot credit twice.
if redis.call('HEXISTS', KEYS[1], 'loaded') == 0 then return { 'not_loaded' } end
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2 + 3 * n])
for j = 1, m do
  local id = ARGV[2 + 3 * n + j]
  if redis.call('SISMEMBER', KEYS[4], id) == 1 then return { 'moved', id } end
end
for i = 0, n - 1 do
  local b, delta = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i])
  local avail = tonumber(redis.call('HGET', KEYS[2], b) or '0')
  if avail + delta < 0 then return { 'held', b, string.format('%d', avail), string.format('%d', delta) } end
end
for i = 0, n - 1 do
  local b, delta = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i])
  redis.call('HINCRBY', KEYS[2], b, delta)
  local meta = ARGV[4 + 3 * i]
  if meta ~= '' then
    redis.call('HSET', KEYS[3], b, meta)
    -- money put back into an expiring bucket must be expired on time, as credit.lua arranges for a credit
    local ex = string.match(meta, '|(%d+)$')
    if ex and delta > 0 then redis.call('ZADD', KEYS[5], 'LT', ex, ARGV[3 + 3 * n + m]) end
  end
end
for j = 1, m do redis.call('SADD', KEYS[4], ARGV[2 + 3 * n + j]) end
return { 'ok' }
