-- Applies one Service's desired state to the slot table, atomically.
-- KEYS[1]: key prefix (ends with the shared hash tag, so every key lives on one shard)
-- ARGV[1]: JSON { mode = claim|reject|release, retry?, owner, cluster, namespace, name, uid,
--                 seq, now, releaseDelayMs, request?, rejection?, resource? (the Service as a
--                 JSON string, kept opaque) }
-- The record is flat (no lists: Lua's JSON encoder cannot tell an empty list from an empty
-- object). Its ports are `claims`, "PROTO/port=externalPort,…"; the slots follow from them.
-- The placement decision (tryClaim) mirrors src/domain/placement.ts; keep them identical.
-- retry: re-plan a Pending Service under the same sequence (capacity or quota freed).
-- Returns JSON { outcome = applied|unchanged|stale|staleIncarnation, record, publish }
-- (record-fence.lua comes first: the record `rec`, `reply`, the sequence and uid fences.)
if a.retry then
  if not rec or rec.seq ~= a.seq or rec.state ~= 'Pending' then return reply('unchanged', rec) end
elseif rec and rec.seq == a.seq then
  -- The same event again (redelivery, or another replica got it too): nothing changes.
  return reply('unchanged', rec)
end

local function split(slot)
  local ip, proto, port = string.match(slot, '^(.*)|(%u+)|(%d+)$')
  return ip, proto, tonumber(port)
end
local function bitsKey(pool, ip, proto) return P .. 'bits:' .. pool .. ':' .. ip .. ':' .. proto end

local function freeSlot(pool, slot)
  local ip, proto, port = split(slot)
  redis.call('HDEL', P .. 'own:' .. pool, slot)
  redis.call('ZREM', P .. 'q:' .. pool, slot)
  redis.call('SETBIT', bitsKey(pool, ip, proto), port, 0)
  redis.call('HINCRBY', P .. 'load:' .. pool, ip, -1)
end

-- Slots leave their owner through quarantine, so stale clients never reach a new owner.
local function releaseSlot(pool, slot)
  if a.releaseDelayMs > 0 then
    redis.call('HSET', P .. 'own:' .. pool, slot, '~' .. a.owner)
    redis.call('ZADD', P .. 'q:' .. pool, a.now + a.releaseDelayMs, slot)
  else
    freeSlot(pool, slot)
    redis.call('INCR', P .. 'epoch')
  end
end

local function parseClaims(text)
  local out = {}
  for proto, port, ext in string.gmatch(text or '', '(%u+)/(%d+)=(%d+)') do
    out[#out + 1] = { protocol = proto, port = tonumber(port), externalPort = tonumber(ext) }
  end
  return out
end

local old = { pool = '', ip = '', slots = {}, claims = {}, allocated = false }
if rec and rec.state == 'Allocated' then
  old.pool = rec.pool; old.ip = rec.ip; old.claims = parseClaims(rec.claims); old.allocated = true
  for i, c in ipairs(old.claims) do old.slots[i] = rec.ip .. '|' .. c.protocol .. '|' .. c.externalPort end
end
old.ports = #old.claims

local newState, newPool, newIp, newPorts, newSlots, reason, message = nil, '', '', {}, {}, '', ''

local function tryClaim(req)
  local own = P .. 'own:' .. req.pool
  local function usable(slot)
    local o = redis.call('HGET', own, slot)
    return (not o) or o == a.owner or o == ('~' .. a.owner)
  end
  -- Quota counts Allocated Services and their ports per tenant cluster.
  local qs = tonumber(redis.call('HGET', P .. 'quota', a.cluster .. '|s') or '0')
  local qp = tonumber(redis.call('HGET', P .. 'quota', a.cluster .. '|p') or '0')
  if old.allocated then qs = qs - 1; qp = qp - old.ports end
  if req.quota.services > 0 and qs + 1 > req.quota.services then
    return nil, 'QuotaExceeded', 'cluster ' .. a.cluster .. ' already has ' .. qs .. ' of ' .. req.quota.services .. ' allowed Services'
  end
  if req.quota.ports > 0 and qp + #req.ports > req.quota.ports then
    return nil, 'QuotaExceeded', 'cluster ' .. a.cluster .. ' would use ' .. (qp + #req.ports) .. ' of ' .. req.quota.ports .. ' allowed ports'
  end

  -- Deterministic IP order: where the Service is now, then IPs this tenant already uses
  -- (packing), then the least loaded, then pool order.
  local load = {}
  local lraw = redis.call('HGETALL', P .. 'load:' .. req.pool)
  for i = 1, #lraw, 2 do load[lraw[i]] = tonumber(lraw[i + 1]) end
  local ten = {}
  local traw = redis.call('HGETALL', P .. 'ten:' .. req.pool .. ':' .. a.cluster)
  for i = 1, #traw, 2 do ten[traw[i]] = tonumber(traw[i + 1]) end
  local cur = (old.allocated and old.pool == req.pool) and old.ip or ''
  local order = {}
  for i, ip in ipairs(req.ips) do
    local mine = ten[ip] or 0
    if ip == cur then mine = mine - 1 end
    order[i] = { ip = ip, idx = i, cur = (ip == cur) and 1 or 0, ten = (mine > 0) and 1 or 0, load = load[ip] or 0 }
  end
  table.sort(order, function(x, y)
    if x.cur ~= y.cur then return x.cur > y.cur end
    if x.ten ~= y.ten then return x.ten > y.ten end
    if x.load ~= y.load then return x.load < y.load end
    return x.idx < y.idx
  end)

  local existing = {}
  if old.allocated and old.pool == req.pool then
    for _, c in ipairs(old.claims) do existing[c.protocol .. '/' .. c.port] = c.externalPort end
  end
  local function acceptable(w, ext)
    return ext and ext >= req.range.lo and ext <= req.range.hi and (ext == w.want or w.remap)
  end

  local function attempt(ip, allowRemap)
    local chosen, taken = {}, {}
    for i, w in ipairs(req.ports) do
      local ext = nil
      -- Where this port is now comes first (stability), then the port it asks for.
      local cands = {}
      if ip == cur and existing[w.protocol .. '/' .. w.port] then cands[1] = existing[w.protocol .. '/' .. w.port] end
      cands[#cands + 1] = w.want
      for _, cand in ipairs(cands) do
        if not ext and acceptable(w, cand) then
          local slot = ip .. '|' .. w.protocol .. '|' .. cand
          if not taken[slot] and usable(slot) then ext = cand end
        end
      end
      if not ext and allowRemap and w.remap then
        local bk = bitsKey(req.pool, ip, w.protocol)
        if redis.call('EXISTS', bk) == 0 then redis.call('SETBIT', bk, 65535, 0) end
        local from = req.range.lo
        while not ext and from <= req.range.hi do
          local pos = redis.call('BITPOS', bk, 0, from, req.range.hi, 'BIT')
          if pos < 0 then break end
          local slot = ip .. '|' .. w.protocol .. '|' .. pos
          if not taken[slot] then ext = pos else from = pos + 1 end
        end
      end
      if not ext then return nil end
      local slot = ip .. '|' .. w.protocol .. '|' .. ext
      taken[slot] = true
      chosen[i] = { slot = slot, ext = ext }
    end
    return chosen
  end

  for pass = 1, 2 do
    for _, o in ipairs(order) do
      local chosen = attempt(o.ip, pass == 2)
      if chosen then return { ip = o.ip, chosen = chosen } end
    end
  end

  -- Why not: PoolExhausted when no candidate IP has room for this many ports at all,
  -- PortUnavailable when some IP has room but not on the wanted ports.
  local need = {}
  for _, w in ipairs(req.ports) do need[w.protocol] = (need[w.protocol] or 0) + 1 end
  local size = req.range.hi - req.range.lo + 1
  for _, o in ipairs(order) do
    local fits = true
    for proto, n in pairs(need) do
      local bk = bitsKey(req.pool, o.ip, proto)
      local used = redis.call('BITCOUNT', bk, req.range.lo, req.range.hi, 'BIT')
      if size - used < n then fits = false end
    end
    if fits then
      local wanted = {}
      for _, w in ipairs(req.ports) do wanted[#wanted + 1] = w.want .. '/' .. w.protocol end
      local where = req.pinned and ('on ' .. req.ips[1]) or ('on any IP of pool ' .. req.pool)
      return nil, 'PortUnavailable', 'port ' .. table.concat(wanted, ',') .. ' is taken ' .. where .. '; allow remapping with sharedlb.io/port-policy: any'
    end
  end
  local where = req.pinned and ('IP ' .. req.ips[1]) or ('pool ' .. req.pool)
  return nil, 'PoolExhausted', where .. ' has no room for ' .. #req.ports .. ' more port(s)'
end

if a.mode == 'release' then
  newState = 'Released'
elseif a.mode == 'reject' then
  newState = 'Failed'; reason = a.rejection.reason; message = a.rejection.message
else
  local got, why, msg = tryClaim(a.request)
  if got then
    newState = 'Allocated'; newPool = a.request.pool; newIp = got.ip
    for i, w in ipairs(a.request.ports) do
      newSlots[i] = got.chosen[i].slot
      newPorts[i] = w.protocol .. '/' .. w.port .. '=' .. got.chosen[i].ext
    end
  else
    newState = 'Pending'; reason = why; message = msg
  end
end

-- Move slots: release what is no longer held, take what is new.
local keep = {}
for _, s in ipairs(newSlots) do keep[newPool .. '#' .. s] = true end
for _, s in ipairs(old.slots) do
  if not keep[old.pool .. '#' .. s] then releaseSlot(old.pool, s) end
end
for _, s in ipairs(newSlots) do
  local own = P .. 'own:' .. newPool
  local o = redis.call('HGET', own, s)
  if o ~= a.owner then
    local ip, proto, port = split(s)
    if o == ('~' .. a.owner) then
      redis.call('ZREM', P .. 'q:' .. newPool, s)
    else
      redis.call('SETBIT', bitsKey(newPool, ip, proto), port, 1)
      redis.call('HINCRBY', P .. 'load:' .. newPool, ip, 1)
    end
    redis.call('HSET', own, s, a.owner)
  end
end
if newPool ~= '' then redis.call('SADD', P .. 'pools', newPool) end

-- Tenant packing counts and quota counters follow the Allocated state.
if old.allocated then
  redis.call('HINCRBY', P .. 'ten:' .. old.pool .. ':' .. a.cluster, old.ip, -1)
  redis.call('HINCRBY', P .. 'quota', a.cluster .. '|s', -1)
  redis.call('HINCRBY', P .. 'quota', a.cluster .. '|p', -old.ports)
end
if newState == 'Allocated' then
  redis.call('HINCRBY', P .. 'ten:' .. newPool .. ':' .. a.cluster, newIp, 1)
  redis.call('HINCRBY', P .. 'quota', a.cluster .. '|s', 1)
  redis.call('HINCRBY', P .. 'quota', a.cluster .. '|p', #newPorts)
end
if old.allocated and newState ~= 'Allocated' then redis.call('INCR', P .. 'epoch') end

if newState == 'Pending' then
  redis.call('ZADD', P .. 'waiting', 'NX', a.now, a.owner)
else
  redis.call('ZREM', P .. 'waiting', a.owner)
end
if newState == 'Released' then
  redis.call('ZADD', P .. 'released', a.now, a.owner)
else
  redis.call('ZREM', P .. 'released', a.owner)
end

local newClaims = table.concat(newPorts, ',')
local newResource = a.resource or (rec and rec.resource) or ''
-- A change of the Service alone (a NodePort) moves no slot but changes what is published.
local function same(r)
  return r and r.state == newState and r.pool == newPool and r.ip == newIp and r.reason == reason and r.message == message
    and r.uid == a.uid and r.claims == newClaims and r.resource == newResource
end
local changed = not same(rec)
return commit({
  state = newState, pool = newPool, ip = newIp, claims = newClaims,
  reason = reason, message = message, resource = newResource,
}, changed)
