-- lib.lua: shared functions, prepended to every charging script at load time (src/charging/scripts.ts).
-- Units: money is integer FEN (0.01 CNY); rate prices are integer micro-CNY (1e-6 CNY) per minute; times are
-- epoch milliseconds; durations are whole seconds. All values stay integers below 2^53 (the engine refuses rates
-- and grants that could exceed it), so Lua doubles are exact here.

-- Billable seconds for a call of d seconds (d >= 0): first increment, then subsequent increments, then the minimum.
local function billable(d, init, sub, minimum)
  if d <= 0 then return 0 end
  local b
  if d <= init then b = init else b = init + math.ceil((d - init) / sub) * sub end
  if b < minimum then b = minimum end
  return b
end

-- Charge in fen of a call of d seconds: (connect fee + price * billable / 60), rounded once per call.
-- In micro-CNY / 60: num = 60 * cf + price * b ; fen = num / 600000.
-- rnd: 'up' | 'down' | 'half-up'. A call of 0 seconds costs nothing (no connect fee).
local function charge(d, r)
  if d <= 0 then return 0 end
  local b = billable(d, r.init, r.sub, r.min)
  local num = 60 * r.cf + r.price * b
  local q = math.floor(num / 600000)
  local rem = num - q * 600000
  -- correct any off-by-one of the float division
  while rem < 0 do q = q - 1; rem = rem + 600000 end
  while rem >= 600000 do q = q + 1; rem = rem - 600000 end
  if r.rnd == 'up' then
    if rem > 0 then q = q + 1 end
  elseif r.rnd == 'half-up' then
    if rem * 2 >= 600000 then q = q + 1 end
  end
  return q
end

-- Largest d in [lo, hi] with charge(d) <= budget, given charge(lo) <= budget (charge is non-decreasing in d).
local function affordable(lo, hi, budget, r)
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if charge(mid, r) <= budget then lo = mid else hi = mid - 1 end
  end
  return lo
end

-- Fair sharing of a short balance: the fen a grant may take now. What is free (`total`) plus what the requesting
-- call still holds unconsumed is split equally over the tenant's `live` calls (requester included) plus one
-- newcomer, minus what the requester already holds; so a big holder grows less until the others catch up, and one
-- share is always left for a call that arrives next. Never less than `step` (the requester's next billable
-- increment) so every call keeps progressing while credit remains; never more than `total`. With a balance large
-- against the slices the share exceeds one slice and nothing changes.
local function fair_budget(total, unconsumed, live, step)
  local share = math.floor((total + unconsumed) / (live + 1)) - unconsumed
  if share < step then share = step end
  if share > total then share = total end
  return share
end

-- Bucket metadata "kind|validFromMs|expiresAtMs" (expiresAt '' = never).
local function parse_meta(s)
  local kind, vf, ex = string.match(s, '^([a-z]+)|(%-?%d+)|(%-?%d*)$')
  local exn = nil
  if ex ~= nil and ex ~= '' then exn = tonumber(ex) end
  return kind, tonumber(vf), exn
end

-- Sort buckets { id, kind, exp, vf } in consumption order: 'earliest-expiry' (never-expiring last), 'gift-first'
-- or 'paid-first' (then earliest expiry); ties by validFrom then id, so every script agrees on the order.
local function sort_buckets(list, order)
  local inf = 1e300
  table.sort(list, function(a, b)
    if order == 'gift-first' and a.kind ~= b.kind then return a.kind == 'gift' end
    if order == 'paid-first' and a.kind ~= b.kind then return a.kind == 'paid' end
    local ea, eb = a.exp or inf, b.exp or inf
    if ea ~= eb then return ea < eb end
    if a.vf ~= b.vf then return a.vf < b.vf end
    return tonumber(a.id) < tonumber(b.id)
  end)
end

-- Buckets of a tenant usable at `now`, sorted by consumption order; expired buckets with money are cleared
-- into the outbox as bucket.expired events (their money moves to the 'expired' ledger account).
-- Returns list of { id=, avail=, kind=, exp= } and the total available.
local function usable_buckets(kBuckets, kMeta, kOutbox, kExpSeq, tenantId, now, order)
  local raw = redis.call('HGETALL', kBuckets)
  local list, total = {}, 0
  for i = 1, #raw, 2 do
    local id, avail = raw[i], tonumber(raw[i + 1])
    local m = redis.call('HGET', kMeta, id)
    if m then
      local kind, vf, ex = parse_meta(m)
      if ex ~= nil and now >= ex then
        if avail > 0 then
          local seq = redis.call('HINCRBY', kExpSeq, id, 1)
          redis.call('HSET', kBuckets, id, 0)
          redis.call('XADD', kOutbox, '*', 'event',
            '{"eventId":"expire:' .. id .. ':' .. seq .. '","type":"bucket.expired","at":' .. string.format('%d', now) ..
            ',"tenantId":"' .. tenantId .. '","bucketId":"' .. id .. '","amountFen":"' .. string.format('%d', avail) .. '"}')
        end
      elseif now >= vf and avail > 0 then
        table.insert(list, { id = id, avail = avail, kind = kind, exp = ex, vf = vf })
        total = total + avail
      end
    end
  end
  sort_buckets(list, order)
  return list, total
end

-- Move `amount` fen from the sorted buckets into the call's holds (fields h:<bucketId> of the call hash).
local function take(kBuckets, kCall, list, amount)
  for _, b in ipairs(list) do
    if amount <= 0 then break end
    local t = math.min(amount, b.avail)
    if t > 0 then
      redis.call('HINCRBY', kBuckets, b.id, -t)
      redis.call('HINCRBY', kCall, 'h:' .. b.id, t)
      b.avail = b.avail - t
      amount = amount - t
    end
  end
  return amount
end

-- Give `amount` fen of a call's holds back to their buckets (a shrinking grant), in reverse consumption order so
-- the credit the call would have used last returns first. The caller lowers the call's `held` by the same amount.
local function release(kBuckets, kMeta, kCall, amount, order)
  local raw = redis.call('HGETALL', kCall)
  local holds = {}
  for i = 1, #raw, 2 do
    local id = string.match(raw[i], '^h:(%d+)$')
    if id then
      local kind, vf, ex = 'paid', 0, nil
      local m = redis.call('HGET', kMeta, id)
      if m then kind, vf, ex = parse_meta(m) end
      table.insert(holds, { id = id, amt = tonumber(raw[i + 1]), kind = kind, exp = ex, vf = vf })
    end
  end
  sort_buckets(holds, order)
  for i = #holds, 1, -1 do
    if amount <= 0 then break end
    local t = math.min(amount, holds[i].amt)
    if t > 0 then
      redis.call('HINCRBY', kCall, 'h:' .. holds[i].id, -t)
      redis.call('HINCRBY', kBuckets, holds[i].id, t)
      amount = amount - t
    end
  end
end

-- Rate of a call from its hash fields.
local function call_rate(kCall)
  local v = redis.call('HMGET', kCall, 'price', 'cf', 'init', 'sub', 'min', 'rnd')
  return { price = tonumber(v[1]), cf = tonumber(v[2]), init = tonumber(v[3]), sub = tonumber(v[4]),
           min = tonumber(v[5]), rnd = v[6] }
end


-- Outbox event of a call. Built with cjson.encode of tables only, so user text in the CDR (Call-ID,
-- caller, callee) can never change the JSON structure. Redis 7.0's cjson encodes an empty table as {}, so the
-- debits array is encoded on its own; numbers stay below 10^14 (epoch ms), within cjson's 14 significant digits.
local function call_event(callId, kind, at, cdr, debits)
  local ev = cjson.encode({ eventId = 'call:' .. callId, type = kind, at = tonumber(at), cdr = cdr })
  local d = (#debits == 0) and '[]' or cjson.encode(debits)
  return string.sub(ev, 1, -2) .. ',"debits":' .. d .. '}'
end
