-- refund.lua: refund a tenant's paid balance (contract art. 5.3): every paid bucket's available fen goes to zero and
-- one bucket.refunded event per bucket goes to the outbox, in one atomic step (the outbox writer posts each as a
-- ledger transfer of kind 'refund', bucket -> cash). Gift buckets are left alone (gift credit is not refunded).
-- KEYS[1] tenantKey   {s<k>}:tenant:<t> (hash: loaded)
-- KEYS[2] bucketsKey  {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[3] metaKey     {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[4] expSeqKey   {s<k>}:tenant:<t>:expseq (hash bucketId -> expiry event counter)
-- KEYS[5] outboxKey   {s<k>}:outbox (stream)
-- KEYS[6] liveKey     {s<k>}:tenant:<t>:calls (set of live call ids)
-- ARGV[1] tenantId
-- ARGV[2] now       epoch ms
-- ARGV[3] refundId  decimal; events are refund:<refund id>:<bucket id>
-- Returns {'unloaded'} when Redis has never held the tenant (the caller loads it from PostgreSQL and calls again),
-- else {'ok', liveCalls, bucketId, amountFen, streamId, ...} for each bucket refunded now.
-- Units: fen (integer). Invariants: buckets expired at `now` are cleared as expired first (their money is not
-- refundable); money held by live calls is not touched: it returns to its bucket when the call settles and a later
-- refund run takes it; a refund run refunds each bucket at most once (its event id carries the run's id).
local tenantKey = KEYS[1]
local bucketsKey = KEYS[2]
local metaKey = KEYS[3]
local expSeqKey = KEYS[4]
local outboxKey = KEYS[5]
local liveKey = KEYS[6]
local tenantId = ARGV[1]
local now = tonumber(ARGV[2])
local refundId = ARGV[3]

if redis.call('HEXISTS', tenantKey, 'loaded') == 0 then return { 'unloaded' } end
usable_buckets(bucketsKey, metaKey, outboxKey, expSeqKey, tenantId, now, 'earliest-expiry')
local out = { 'ok', redis.call('SCARD', liveKey) }
local raw = redis.call('HGETALL', bucketsKey)
for i = 1, #raw, 2 do
  local id, avail = raw[i], tonumber(raw[i + 1])
  local m = redis.call('HGET', metaKey, id)
  if m and avail > 0 then
    local kind, _, ex = parse_meta(m)
    if kind == 'paid' and (ex == nil or now < ex) then
      redis.call('HSET', bucketsKey, id, 0)
      local amount = string.format('%d', avail)
      local sid = redis.call('XADD', outboxKey, '*', 'event', cjson.encode({
        eventId = 'refund:' .. refundId .. ':' .. id, type = 'bucket.refunded', at = now,
        tenantId = tenantId, bucketId = id, amountFen = amount,
      }))
      table.insert(out, id)
      table.insert(out, amount)
      table.insert(out, sid)
    end
  end
end
return out
