-- record.lua: put a CDR event for a call that holds no reservation (rejected, or admitted without Redis under the
-- 'continue' failure policy) in the outbox, exactly once per call id.
-- KEYS[1] {s<k>}:done:<callId>  KEYS[2] {s<k>}:outbox  KEYS[3] {s<k>}:tenant:<t>:buckets  KEYS[4] {s<k>}:tenant:<t>:bmeta
-- KEYS[5] {s<k>}:tenant:<t>:expseq. Without a tenant the call's shard is fnv1a32(callId) mod shards and KEYS[3..5]
-- are that shard's outbox key again (unused; they keep the step on one slot).
-- ARGV[1] callId  ARGV[2] now ms  ARGV[3] type 'call.rejected' | 'call.settled'  ARGV[4] CDR JSON (its chargeFen is
-- replaced by the fen actually taken)  ARGV[5] wanted charge fen  ARGV[6] consumption order  ARGV[7] tenantId (or '')
-- ARGV[8] done TTL seconds
-- The charge actually taken is min(wanted, available now): an unreserved call can never drive a bucket below 0;
-- what it could not pay is revenue lost to the 'continue' policy (bounded, see docs/charging.md).
-- Returns {'ok', chargedFen} | {'dup', summary}
-- The event is built with cjson.encode of tables: user text (Call-ID, caller, callee) is never spliced into JSON.
local done = redis.call('GET', KEYS[1])
if done then return { 'dup', done } end
local want = tonumber(ARGV[5])
local got = 0
local debits = {}
if want > 0 and ARGV[7] ~= '' then
  local list = usable_buckets(KEYS[3], KEYS[4], KEYS[2], KEYS[5], ARGV[7], tonumber(ARGV[2]), ARGV[6])
  for _, b in ipairs(list) do
    if got >= want then break end
    local t = math.min(want - got, b.avail)
    if t > 0 then
      redis.call('HINCRBY', KEYS[3], b.id, -t)
      table.insert(debits, { bucketId = b.id, amountFen = string.format('%d', t) })
      got = got + t
    end
  end
end
local cdr = cjson.decode(ARGV[4])
cdr.chargeFen = string.format('%d', got)
redis.call('XADD', KEYS[2], '*', 'event', call_event(ARGV[1], ARGV[3], ARGV[2], cdr, debits))
redis.call('SET', KEYS[1], string.format('%d', got) .. '|-', 'EX', tonumber(ARGV[8]))
return { 'ok', got }
