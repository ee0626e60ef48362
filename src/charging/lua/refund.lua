-- refund.lua: refund a tenant's paid balance (contract art. 5.3): every paid bucket's available fen goes to zero and
-- one bucket.refunded event per bucket goes to the outbox, in one atomic step (the outbox writer posts each as a
-- ledger transfer of kind 'refund', bucket -> cash). Gift buckets are left alone (gift credit is not refunded).
-- KEYS[1] tenant:<t> (hash: loaded)  KEYS[2] tenant:<t>:buckets  KEYS[3] tenant:<t>:bmeta  KEYS[4] tenant:<t>:expseq
-- KEYS[5] outbox  KEYS[6] tenant:<t>:calls (set of live call ids)
-- ARGV[1] tenantId  ARGV[2] now ms  ARGV[3] refund id (decimal; events are refund:<refund id>:<bucket id>)
-- Returns {'unloaded'} when Redis has never held the tenant (the caller loads it from PostgreSQL and calls again),
-- else {'ok', liveCalls, bucketId, amountFen, streamId, ...} for each bucket refunded now.
-- Units: fen (integer). Invariants: buckets expired at `now` are cleared as expired first (their money is not
-- refundable); money held by live calls is not touched: it returns to its bucket when the call settles and a later
-- refund run takes it; a refund run refunds each bucket at most once (its event id carries the run's id).
if redis.call('HEXISTS', KEYS[1], 'loaded') == 0 then return { 'unloaded' } end
local now = tonumber(ARGV[2])
usable_buckets(KEYS[2], KEYS[3], KEYS[5], KEYS[4], ARGV[1], now, 'earliest-expiry')
local out = { 'ok', redis.call('SCARD', KEYS[6]) }
local raw = redis.call('HGETALL', KEYS[2])
for i = 1, #raw, 2 do
  local id, avail = raw[i], tonumber(raw[i + 1])
  local m = redis.call('HGET', KEYS[3], id)
  if m and avail > 0 then
    local kind, _, ex = parse_meta(m)
    if kind == 'paid' and (ex == nil or now < ex) then
      redis.call('HSET', KEYS[2], id, 0)
      local amount = string.format('%d', avail)
      local sid = redis.call('XADD', KEYS[5], '*', 'event', cjson.encode({
        eventId = 'refund:' .. ARGV[3] .. ':' .. id, type = 'bucket.refunded', at = now,
        tenantId = ARGV[1], bucketId = id, amountFen = amount,
      }))
      table.insert(out, id)
      table.insert(out, amount)
      table.insert(out, sid)
    end
  end
end
return out
