-- extend.lua: grow a live call's reservation up to `target` seconds (the next slice), or to its fair share of a
-- short balance, or to what is affordable.
-- KEYS[1] tenantKey   {s<k>}:tenant:<t> (hash status, end, ...)
-- KEYS[2] bucketsKey  {s<k>}:tenant:<t>:buckets (hash bucketId -> available fen)
-- KEYS[3] metaKey     {s<k>}:tenant:<t>:bmeta (hash bucketId -> "kind|validFromMs|expiresAtMs")
-- KEYS[4] expSeqKey   {s<k>}:tenant:<t>:expseq (hash bucketId -> expiry event counter)
-- KEYS[5] callKey     {s<k>}:call:<callId> (hash of the call)
-- KEYS[6] leasesKey   {s<k>}:leases (zset callId -> lease end ms)
-- KEYS[7] outboxKey   {s<k>}:outbox (stream)
-- KEYS[8] liveKey     {s<k>}:tenant:<t>:calls (set of the tenant's live call ids)
-- ARGV[1] callId
-- ARGV[2] tenantId
-- ARGV[3] now      epoch ms
-- ARGV[4] target   granted seconds asked for (absolute, from answer)
-- ARGV[5] order    consumption order
-- ARGV[6] graceMs  lease grace, ms
-- ARGV[7] ahead    (optional) look-ahead seconds from answer: only read, never reserved (the low-credit warning's
--                  question "can the balance carry the call that far?")
-- Returns {grantedSeconds, final, reachSeconds}; reachSeconds = how far (seconds from answer, up to
-- max(target, look-ahead)) the whole available balance plus this call's hold could carry this call: less than that
-- bound means the balance runs out there. grantedSeconds may be LESS than before when the call held more than its fair
-- share of a short balance (give-back, never below 2 s past now). final = 1 when the call can get no more: the
-- available balance cannot pay its next billable increment and no other call of the tenant is live (credit
-- exhausted), the tenant is not active, or the period is over. A grant held back by fair sharing (fair_budget in
-- lib.lua), or starved while other live calls hold credit, is NOT final: the engine asks again before it ends.
-- {-1, 1} when the call is unknown (settled or reclaimed).
-- Units: money in integer fen, times in epoch ms, durations in whole seconds.
-- Invariants: held = charge(granted); the delta charge(new) - charge(old) is taken from the buckets' available
-- fen in this step and never exceeds it. A shrink (give-back) returns charge(old) - charge(new) from the call's holds
-- to the buckets, latest-consumed first, and keeps the grant at least 2 s past the seconds talked at `now`; the
-- owning instance asked for it and applies the new grant end it gets. The grant never passes the period end.
local tenantKey = KEYS[1]
local bucketsKey = KEYS[2]
local metaKey = KEYS[3]
local expSeqKey = KEYS[4]
local callKey = KEYS[5]
local leasesKey = KEYS[6]
local outboxKey = KEYS[7]
local liveKey = KEYS[8]
local callId = ARGV[1]
local tenantId = ARGV[2]
local now = tonumber(ARGV[3])
local target = tonumber(ARGV[4])
local order = ARGV[5]
local graceMs = tonumber(ARGV[6])
local ahead = tonumber(ARGV[7] or '0') or 0

if redis.call('EXISTS', callKey) == 0 then return { -1, 1 } end
local granted = tonumber(redis.call('HGET', callKey, 'granted'))
if target <= granted then return { granted, 0 } end
local st = redis.call('HMGET', tenantKey, 'status', 'end')
local limited = false -- target cut short by the service period end
if st[1] ~= 'active' then return { granted, 1 } end
local answerAt = tonumber(redis.call('HGET', callKey, 'answer') or '')
-- the grant never runs past the end of the service period
if st[2] and st[2] ~= '' and answerAt then
  local limit = math.floor((tonumber(st[2]) - answerAt) / 1000)
  if limit < target then target = limit; limited = true end
  if target <= granted then return { granted, 1 } end
end
local r = call_rate(callKey)
local held = tonumber(redis.call('HGET', callKey, 'held'))
local list, total = usable_buckets(bucketsKey, metaKey, outboxKey, expSeqKey, tenantId, now, order)
local full = affordable(granted, target, held + total, r) -- what the whole available balance would give
-- fair share (lib.lua fair_budget): the seconds this call has already talked are spent; the rest of its hold is
-- unconsumed and counts toward its share
local used = 0
if answerAt then used = math.max(0, math.min(granted, math.floor((now - answerAt) / 1000))) end
local spent = charge(used, r)
local unconsumed = held - spent
local live = math.max(1, redis.call('SCARD', liveKey))
local share = math.floor((total + unconsumed) / (live + 1))
local g = full
local final = 0
if answerAt and unconsumed > share and used + 2 < granted then
  -- it holds more than its share of a short balance: give the excess back, keeping at least 2 s past `now` so
  -- the shrunk grant still runs when the reply reaches the owning instance
  g = used + 2
  if charge(g, r) <= spent + share then g = affordable(g, granted, spent + share, r) end
elseif full > granted then
  local budget = fair_budget(total, unconsumed, live, charge(granted + 1, r) - held)
  g = math.min(full, affordable(granted, target, held + budget, r))
  if g == full and (full < target or limited) then final = 1 end
elseif limited or live == 1 then
  final = 1 -- not even the next increment is affordable (or the period ends)
end
-- else: starved while other calls of the tenant still hold credit. Not final: the engine asks again before this
-- grant ends, and a big holder may have given its excess back by then (otherwise the call is cut at grant end).
if g < granted then
  local newHeld = charge(g, r)
  release(bucketsKey, metaKey, callKey, held - newHeld, order)
  redis.call('HSET', callKey, 'granted', g, 'held', newHeld)
  redis.call('ZADD', leasesKey, answerAt + g * 1000 + graceMs, callId)
end
if g > granted then
  local newHeld = charge(g, r)
  take(bucketsKey, callKey, list, newHeld - held)
  redis.call('HSET', callKey, 'granted', g, 'held', newHeld)
  if answerAt then redis.call('ZADD', leasesKey, answerAt + g * 1000 + graceMs, callId) end
end
local reach = full
if ahead > target then reach = affordable(granted, ahead, held + total, r) end
return { g, final, reach }
