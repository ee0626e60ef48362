-- snapshot.lua: one consistent, read-only picture of the Redis side of some tenants of ONE key shard, for
-- reconciliation (src/reconcile/snapshot.ts runs it once per shard).
-- KEYS[1] leasesKey      {s<k>}:leases (zset callId -> lease end ms)
-- KEYS[2] outboxKey      {s<k>}:outbox (stream)
-- KEYS[3] ackedKey       {s<k>}:outbox:acked (zset id -> ack ms)
-- ARGV[1] callKeyPrefix  full name (connection prefix included) of the shard's call keys without the call id
--                        ('<prefix>{s<k>}:call:')
-- ARGV[2] group          consumer group
-- ARGV[3] ackedSince     epoch ms: acked entries acknowledged at or after it are included
-- ARGV[4..] per tenant 5 values: tenantId, then the full names of its keys tenant, buckets, bmeta, credits
-- Reads keys not passed in KEYS (the tenants' and the calls' keys): they carry the same hash tag as KEYS, so in Redis
-- Cluster they are in the same slot as KEYS and the script stays a single-slot step.
-- Invariant: read only, in one atomic step: the picture of each tenant is of one instant.
-- Money is integer fen throughout. Returns {tenants, holds, outbox}:
--   tenants: per tenant { tenantId, loaded 0|1, {bucketId, availFen, ...}, {bucketId, meta, ...}, {credit transfer ids} }
--   holds:   { tenantId, bucketId, heldFen, liveCalls } per bucket with a live reservation (liveCalls = calls of the
--            tenant, repeated on each row)
--   outbox:  per entry that may not be in PostgreSQL yet (undelivered, pending, or acked since ackedSince) and that
--            takes money from one of the tenants: { streamId, eventId, tenantId, bucketId, fen, bucketId, fen, ... }
local leasesKey = KEYS[1]
local outboxKey = KEYS[2]
local ackedKey = KEYS[3]
local callKeyPrefix = ARGV[1]
local group = ARGV[2]
local ackedSince = ARGV[3]

local wanted = {}
local out_tenants = {}
for i = 4, #ARGV, 5 do
  local t = ARGV[i]
  wanted[t] = true
  table.insert(out_tenants, {
    t,
    redis.call('HEXISTS', ARGV[i + 1], 'loaded'),
    redis.call('HGETALL', ARGV[i + 2]),
    redis.call('HGETALL', ARGV[i + 3]),
    redis.call('SMEMBERS', ARGV[i + 4]),
  })
end

-- live reservations: held fen per (tenant, bucket) over the calls in the lease set
local held, calls, order = {}, {}, {}
for _, callId in ipairs(redis.call('ZRANGE', leasesKey, 0, -1)) do
  local raw = redis.call('HGETALL', callKeyPrefix .. callId)
  local h, tenant = {}, nil
  for j = 1, #raw, 2 do
    if raw[j] == 'tenant' then tenant = raw[j + 1] end
    local b = string.match(raw[j], '^h:(%d+)$')
    if b then h[b] = tonumber(raw[j + 1]) end
  end
  if tenant and wanted[tenant] then
    calls[tenant] = (calls[tenant] or 0) + 1
    for b, fen in pairs(h) do
      local k = tenant .. '|' .. b
      if not held[k] then held[k] = 0; table.insert(order, { tenant, b }) end
      held[k] = held[k] + fen
    end
  end
end
local out_holds = {}
for _, tb in ipairs(order) do
  table.insert(out_holds, { tb[1], tb[2], string.format('%d', held[tb[1] .. '|' .. tb[2]]), calls[tb[1]] })
end

-- outbox entries whose ledger rows may be missing: undelivered, pending, recently acked
local ids, seen = {}, {}
local function want(id) if not seen[id] then seen[id] = true; table.insert(ids, id) end end
local entries = {}
local groups = {}
if redis.call('EXISTS', outboxKey) == 1 then groups = redis.call('XINFO', 'GROUPS', outboxKey) end
local last = nil
for _, g in ipairs(groups) do
  local name, ld
  for j = 1, #g, 2 do
    if g[j] == 'name' then name = g[j + 1] end
    if g[j] == 'last-delivered-id' then ld = g[j + 1] end
  end
  if name == group then last = ld end
end
if last == nil then
  entries = redis.call('XRANGE', outboxKey, '-', '+') -- no consumer yet: everything is undelivered
else
  for _, e in ipairs(redis.call('XRANGE', outboxKey, '(' .. last, '+')) do table.insert(entries, e); seen[e[1]] = true end
  for _, p in ipairs(redis.call('XPENDING', outboxKey, group, '-', '+', 1000000)) do want(p[1]) end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', ackedKey, ackedSince, '+inf')) do want(id) end
  for _, id in ipairs(ids) do
    local e = redis.call('XRANGE', outboxKey, id, id)
    if e[1] then table.insert(entries, e[1]) end
  end
end
local out_outbox = {}
for _, e in ipairs(entries) do
  local f = e[2]
  local raw = nil
  for j = 1, #f, 2 do if f[j] == 'event' then raw = f[j + 1] end end
  local ok, ev = false, nil
  -- cheap filter first: only events naming one of the wanted tenants are decoded (an event without a tenant
  -- cannot debit a bucket)
  local tid = raw and string.match(raw, '"tenantId"%s*:%s*"(%d+)"')
  if tid and wanted[tid] then ok, ev = pcall(cjson.decode, raw) end
  if ok and type(ev) == 'table' then
    local row = nil
    if (ev.type == 'bucket.expired' or ev.type == 'bucket.refunded') and wanted[tostring(ev.tenantId)] then
      row = { e[1], tostring(ev.eventId), tostring(ev.tenantId), tostring(ev.bucketId), tostring(ev.amountFen) }
    elseif type(ev.cdr) == 'table' and type(ev.debits) == 'table' and #ev.debits > 0 and wanted[tostring(ev.cdr.tenantId)] then
      row = { e[1], tostring(ev.eventId), tostring(ev.cdr.tenantId) }
      for _, d in ipairs(ev.debits) do
        table.insert(row, tostring(d.bucketId))
        table.insert(row, tostring(d.amountFen))
      end
    end
    if row then table.insert(out_outbox, row) end
  end
end
return { out_tenants, out_holds, out_outbox }
