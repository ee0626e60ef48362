-- record.lua: put a CDR event for a call that holds no reservation (rejected, or admitted without Redis under the
-- 'continue' failure policy) in the outbox, exactly once per call id.
-- KEYS[1] doneKey     {s<k>}:done:<callId> (marker of a recorded call)
-- KEYS[2] outboxKey   {s<k>}:outbox (stream)
-- KEYS[3] bucketsKey  {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[4] metaKey     {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[5] expSeqKey   {s<k>}:tenant:<t>:expseq (hash bucketId -> expiry event counter)
--         Without a tenant the call's shard is fnv1a32(callId) mod shards and KEYS[3..5] are that shard's outbox key
--         again (unused; they keep the step on one slot).
-- ARGV[1] callId
-- ARGV[2] now        epoch ms (event time)
-- ARGV[3] eventType  'call.rejected' | 'call.settled'
-- ARGV[4] cdrJson    CDR JSON (its chargeFen is replaced by the fen actually taken)
-- ARGV[5] wantedFen  integer fen the call was rated
-- ARGV[6] order      consumption order
-- ARGV[7] tenantId   or ''
-- ARGV[8] doneTtl    TTL of the done marker, seconds
-- The charge actually taken is min(wantedFen, available now): an unreserved call can never drive a bucket below 0;
-- what it could not pay is revenue lost to the 'continue' policy (bounded, see docs/charging.md).
-- Returns {'ok', chargedFen} | {'dup', summary}
-- Invariants: 0 <= chargedFen <= wantedFen and sum(debits) == chargedFen; the done marker is written in the same
-- step as the outbox entry. The event is built with cjson.encode of tables: user text (Call-ID, caller, callee) is
-- never spliced into JSON.
local doneKey = KEYS[1]
local outboxKey = KEYS[2]
local bucketsKey = KEYS[3]
local metaKey = KEYS[4]
local expSeqKey = KEYS[5]
local callId = ARGV[1]
local now = ARGV[2]
local eventType = ARGV[3]
local cdrJson = ARGV[4]
local wantedFen = ARGV[5]
local order = ARGV[6]
local tenantId = ARGV[7]
local doneTtl = ARGV[8]

local done = redis.call('GET', doneKey)
if done then return { 'dup', done } end
local want = tonumber(wantedFen)
local got = 0
local debits = {}
if want > 0 and tenantId ~= '' then
  local list = usable_buckets(bucketsKey, metaKey, outboxKey, expSeqKey, tenantId, tonumber(now), order)
  for _, b in ipairs(list) do
    if got >= want then break end
    local t = math.min(want - got, b.avail)
    if t > 0 then
      redis.call('HINCRBY', bucketsKey, b.id, -t)
      table.insert(debits, { bucketId = b.id, amountFen = string.format('%d', t) })
      got = got + t
    end
  end
end
local cdr = cjson.decode(cdrJson)
cdr.chargeFen = string.format('%d', got)
redis.call('XADD', outboxKey, '*', 'event', call_event(callId, eventType, now, cdr, debits))
redis.call('SET', doneKey, string.format('%d', got) .. '|-', 'EX', tonumber(doneTtl))
return { 'ok', got }
