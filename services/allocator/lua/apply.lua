-- Applies one Service's desired state to the slot table, atomically.
-- KEYS[1]: the prefix of the pool's hash tag (the record's home: the pool claimed in, or
--          where the record already is), so every key lives on one Redis Cluster shard
-- a: the change, from its arguments (apply-args.lua): mode = claim|reject|release, retry,
--    owner, cluster, namespace, name, uid, seq, now, releaseDelayMs, resource? (the Service
--    as JSON, kept opaque: claim and reject; none for a release), request? (claim),
--    rejection? (reject), prev?, quotaDenied? (the message: the tenant's quota ledger refused
--    this claim, src/adapters/table-keys.ts), note?
-- (src/adapters/lua-scripts.ts runs this, after record-fence.lua, once per change of a call:
-- KEYS and `a` are that change's.)
-- The record is flat (no lists: Lua's JSON encoder cannot tell an empty list from an empty
-- object). Its ports are `claims`, "PROTO/port=externalPort,…"; the slots follow from them.
-- The placement decision (tryClaim) mirrors src/domain/placement.ts; keep them identical.
-- retry: re-plan a Pending Service under the same sequence (capacity or quota freed).
-- Returns JSON { outcome = applied|unchanged|stale|staleIncarnation, record, publish }
-- (record-fence.lua and slot-index.lua come first: the record `rec`, `reply`, the sequence
-- and uid fences; the slot table's index keys and the functions that keep them.)
-- request.ips is the pinned IP only; the pool's IPs are in lz:<pool> (pool-index.lua).
if a.retry then
  if not rec or rec.seq ~= a.seq or rec.state ~= 'Pending' then return reply('unchanged', rec) end
elseif rec and rec.seq == a.seq then
  -- The same event again (redelivery, or another replica got it too): nothing changes.
  return reply('unchanged', rec)
end
-- A claim in a pool needs the pool's IP index (the adapter writes it, then asks again).
if a.mode == 'claim' and not a.request.pinned and redis.call('EXISTS', P .. 'lzd:' .. a.request.pool) == 0 then
  return cjson.encode({ outcome = 'unindexed' })
end

-- How far pass 1 walks lz for a port before it keeps the port's free IPs in fr: (slot-index.lua).
local WALK_FR = 56

-- The port stays text: it only goes into keys and commands.
local function split(slot)
  return string.match(slot, '^(.*)|(%u+)|(%d+)$')
end

-- Slots leave their owner through quarantine, so stale clients never reach a new owner.
local function releaseSlot(pool, slot)
  local ip, proto, port = split(slot)
  if a.releaseDelayMs > 0 then
    redis.call('HSET', P .. 'own:' .. pool, slot, '~' .. a.owner)
    redis.call('ZADD', P .. 'q:' .. pool, a.now + a.releaseDelayMs, slot)
    slotQuarantined(P, pool, a.owner, ip, 1)
  else
    slotFree(P, pool, ip, proto, port)
    redis.call('INCR', P .. 'epoch')
  end
end

local function parseClaims(text)
  local out = {}
  for proto, port, ext in string.gmatch(text or '', '(%u+)/(%d+)=(%d+)') do
    out[#out + 1] = { protocol = proto, port = tonumber(port), externalPort = tonumber(ext), portText = port, externalText = ext }
  end
  return out
end

local old = { pool = '', ip = '', slots = {}, claims = {}, allocated = false }
if rec and recHere and rec.state == 'Allocated' then
  old.pool = rec.pool; old.ip = rec.ip; old.claims = parseClaims(rec.claims); old.allocated = true
  for i, c in ipairs(old.claims) do old.slots[i] = rec.ip .. '|' .. c.protocol .. '|' .. c.externalText end
end
old.ports = #old.claims

local newState, newPool, newIp, newPorts, newSlots, reason, message = nil, '', '', {}, {}, '', ''
-- Holders of the claim pool's slots as attempt() read them (false: free): nothing changes
-- them before the new slots are taken below (the slots released there are not new ones),
-- so taking a slot read here needs no second HGET.
local seenHolder = {}

local function tryClaim(req)
  local pool = req.pool
  local own = P .. 'own:' .. pool
  local lz = lzKey(P, pool)
  local function usable(slot)
    local o = redis.call('HGET', own, slot)
    seenHolder[slot] = o
    return (not o) or o == a.owner or o == ('~' .. a.owner)
  end
  -- Quota spans pools, so it is checked (and reserved) before, in the tenant's ledger.
  if a.quotaDenied then return nil, 'QuotaExceeded', a.quotaDenied end

  -- protocol/port → the claim held there now (its externalPort, and as text).
  local existing = {}
  if old.allocated and old.pool == pool then
    for _, c in ipairs(old.claims) do existing[c.protocol .. '/' .. c.portText] = c end
  end
  local function acceptable(w, ext)
    return ext and ext >= req.range.lo and ext <= req.range.hi and (ext == w.want or w.remap)
  end

  -- The Service now sits on `cur`; the rule only prefers it while it is still a candidate.
  local cur = (old.allocated and old.pool == pool) and old.ip or ''
  if req.pinned then
    if cur ~= req.ips[1] then cur = '' end
  elseif cur ~= '' and not redis.call('ZSCORE', lz, cur) then
    cur = ''
  end

  local function attempt(ip, allowRemap)
    local chosen, taken = {}, {}
    for i, w in ipairs(req.ports) do
      local ext, extText, extSlot = nil, nil, nil
      -- Where this port is now comes first (stability), then the port it asks for.
      local cands, texts = {}, {}
      local held = ip == cur and existing[w.protocol .. '/' .. w.portText]
      if held then cands[1] = held.externalPort; texts[1] = held.externalText end
      cands[#cands + 1] = w.want; texts[#cands] = w.wantText
      for k, cand in ipairs(cands) do
        if not ext and acceptable(w, cand) then
          local slot = ip .. '|' .. w.protocol .. '|' .. texts[k]
          if not taken[slot] and usable(slot) then ext, extText, extSlot = cand, texts[k], slot end
        end
      end
      if not ext and allowRemap and w.remap then
        local bk = slotBits(P, pool, ip, w.protocol)
        -- The bitmap ends after the highest port ever held there; every port past it is free.
        local stored = redis.call('STRLEN', bk) * 8
        local from = req.range.lo
        while not ext and from <= req.range.hi do
          local pos = -1
          if from < stored then pos = redis.call('BITPOS', bk, '0', from, math.min(req.range.hi, stored - 1), 'BIT') end
          if pos < 0 then
            if stored > req.range.hi then break end
            pos = math.max(from, stored)
          end
          local text = tostring(pos)
          local slot = ip .. '|' .. w.protocol .. '|' .. text
          if not taken[slot] then ext, extText, extSlot = pos, text, slot else from = pos + 1 end
        end
      end
      if not ext then return nil end
      taken[extSlot] = true
      chosen[i] = { slot = extSlot, ext = ext, extText = extText }
    end
    return chosen
  end

  -- Why not: PoolExhausted when no candidate IP has room for this many ports at all,
  -- PortUnavailable when some IP has room but not on the wanted ports.
  local need = {}
  for _, w in ipairs(req.ports) do need[w.protocol] = (need[w.protocol] or 0) + 1 end
  local size = req.range.hi - req.range.lo + 1
  local function hasRoom(ip)
    for proto, n in pairs(need) do
      local used = redis.call('BITCOUNT', P .. 'bits:' .. pool .. ':' .. ip .. ':' .. proto, req.range.lo, req.range.hi, 'BIT')
      if size - used < n then return false end
    end
    return true
  end
  local function why()
    local wanted = {}
    for _, w in ipairs(req.ports) do wanted[#wanted + 1] = w.want .. '/' .. w.protocol end
    local where = req.pinned and ('on ' .. req.ips[1]) or ('on any IP of pool ' .. pool)
    return nil, 'PortUnavailable', 'port ' .. table.concat(wanted, ',') .. ' is taken ' .. where .. '; allow remapping with sharedlb.io/port-policy: any'
  end
  local function exhausted()
    local where = req.pinned and ('IP ' .. req.ips[1]) or ('pool ' .. pool)
    return nil, 'PoolExhausted', where .. ' has no room for ' .. #req.ports .. ' more port(s)'
  end

  if req.pinned then
    local ip = req.ips[1]
    for pass = 1, 2 do
      local chosen = attempt(ip, pass == 2)
      if chosen then return { ip = ip, chosen = chosen } end
    end
    if hasRoom(ip) then return why() end
    return exhausted()
  end

  -- The IP order is where the Service is now (stability), then the IPs this tenant already
  -- uses (packing), then the rest, each least loaded first, then in pool order: the lz
  -- score. Nothing here walks the pool's IP list; `scan` walks lz only as far as needed.
  local tens = P .. 'tens:' .. pool .. ':' .. a.cluster
  -- `cmd key member…` for every member of `list`, in parts of 1,000 (Lua's unpack has a
  -- limit): the replies, one per member, in one list.
  local function perMember(cmd, key, list)
    local out = {}
    for i = 1, #list, 1000 do
      for _, v in ipairs(redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))) do out[#out + 1] = v end
    end
    return out
  end
  -- Scores (lz) of those of `ips` that are in the pool, `cur` left out.
  local function scored(ips)
    local out = {}
    local sc = perMember('ZMSCORE', lz, ips)
    for j, ip in ipairs(ips) do
      if sc[j] and ip ~= cur then out[#out + 1] = { ip = ip, s = tonumber(sc[j]) } end
    end
    return out
  end
  -- Tries the IPs in lz order; the first usually fits, so the least loaded is picked by one
  -- linear pass, and only after a few misses is the rest sorted.
  local function tryEach(ips, allowRemap)
    local list = scored(ips)
    for _ = 1, 4 do
      local best = nil
      for i, c in ipairs(list) do
        if not c.tried and (not best or c.s < list[best].s) then best = i end
      end
      if not best then return nil end
      list[best].tried = true
      local chosen = attempt(list[best].ip, allowRemap)
      if chosen then return { ip = list[best].ip, chosen = chosen } end
    end
    local rest = {}
    for _, c in ipairs(list) do
      if not c.tried then rest[#rest + 1] = c end
    end
    table.sort(rest, function(x, y) return x.s < y.s end)
    for _, c in ipairs(rest) do
      local chosen = attempt(c.ip, allowRemap)
      if chosen then return { ip = c.ip, chosen = chosen } end
    end
    return nil
  end
  -- IPs (away from `cur`) where this Service may take a port another holds: where the slot
  -- is its own, quarantined (oq:, `mine`) or held (the record's IP); filled before any walk.
  local keep = {}
  -- Of `ips` (in order), those where every port of `keys` (tk: sets) is free or the
  -- Service's own (`keep`): attempt() fails on the others, so they are left out in bulk, one
  -- SMISMEMBER per key, and attempt() runs on what is left only.
  local function freeOn(ips, keys)
    for _, k in ipairs(keys) do
      if #ips == 0 then break end
      local left = {}
      local held = perMember('SMISMEMBER', k, ips)
      for j, ip in ipairs(ips) do
        if held[j] == 0 or keep[ip] then left[#left + 1] = ip end
      end
      ips = left
    end
    return ips
  end
  -- The rest of the pool (`all`: the whole pool), least loaded first; the first IP fn accepts,
  -- or nil. In chunks of lz that grow; `keys`: as freeOn, before fn, from the second chunk on
  -- (the first IP usually fits: the first chunk is tried IP by IP). With `budget`, it stops
  -- once that many IPs were walked (nil, true).
  local function scan(fn, all, keys, budget)
    local from, n = 0, 8
    while true do
      if budget and from >= budget then return nil, true end
      local ips = redis.call('ZRANGE', lz, from, from + n - 1)
      local cands = ips
      if from == 0 then
        for _, ip in ipairs(ips) do
          if all or (ip ~= cur and redis.call('SISMEMBER', tens, ip) == 0) then
            local got = fn(ip)
            if got then return got end
          end
        end
        cands = {}
      elseif not all and #ips > 0 then
        cands = {}
        local inTenant = redis.call('SMISMEMBER', tens, unpack(ips))
        for j, ip in ipairs(ips) do
          if ip ~= cur and inTenant[j] == 0 then cands[#cands + 1] = ip end
        end
      end
      for _, ip in ipairs(freeOn(cands, keys or {})) do
        local got = fn(ip)
        if got then return got end
      end
      if #ips < n then return nil end
      from = from + n
      if n < 1024 then n = n * 2 end
    end
  end

  -- Pass 1: every port on the port it asks for (or holds).
  if cur ~= '' then
    local chosen = attempt(cur, false)
    if chosen then return { ip = cur, chosen = chosen } end
  end
  local wantsInRange = true
  local takenKeys = {}
  for _, w in ipairs(req.ports) do
    if w.want < req.range.lo or w.want > req.range.hi then wantsInRange = false end
    takenKeys[#takenKeys + 1] = P .. 'tk:' .. pool .. ':' .. w.protocol .. ':' .. w.wantText
  end
  -- Away from `cur`, a slot is usable when it is free or quarantined for this Service (or,
  -- on the IP its record names, held by it: only `cur` in a consistent table).
  local mine = redis.call('HKEYS', P .. 'oq:' .. pool .. ':' .. a.owner)
  for _, ip in ipairs(mine) do keep[ip] = true end
  if old.allocated and old.pool == pool then keep[old.ip] = true end
  -- Pass 2's ports that cannot move: on an IP, each needs its wanted port free (or its own).
  local fixedKeys = {}
  for _, w in ipairs(req.ports) do
    if not w.remap then fixedKeys[#fixedKeys + 1] = P .. 'tk:' .. pool .. ':' .. w.protocol .. ':' .. w.wantText end
  end
  local tz = P .. 'tz:' .. pool .. ':' .. a.cluster
  -- The tenant's IPs least loaded first: the first few from the front of tz, the first
  -- that fits wins; nil, and how many were looked at (all of them when fewer than `n`).
  local function walkTenant(allowRemap, n, keys)
    local ips = redis.call('ZRANGE', tz, 0, n - 1)
    local cands = {}
    for _, ip in ipairs(ips) do
      if ip ~= cur then cands[#cands + 1] = ip end
    end
    for _, ip in ipairs(freeOn(cands, keys)) do
      local chosen = attempt(ip, allowRemap)
      if chosen then return { ip = ip, chosen = chosen } end
    end
    return nil, #ips < n
  end
  -- Pass 1 away from the tenant's IPs, for a wanted port `w`, when lz's front holds it on
  -- so many IPs that the walk is long: the IPs where it is free come from fr: (slot-index.lua)
  -- instead, read in score order. Entries whose score is below the IP's lz score (or where
  -- the port is held now) are put right and read again; once a part of it is all right, it
  -- holds the least loaded of the IPs where the port is free, in lz order. `build`: make fr:
  -- for the port (a walk found it long). Returns the least loaded that fits, of these and of
  -- `mine` (what the walk would find), false when none fits, nil when fr: is not kept.
  local function nearlyFull(w, build)
    local frm, field = frmKey(P, pool), fullField(w.protocol, w.wantText)
    local fk = frKey(P, pool, w.protocol, w.wantText)
    local tk = P .. 'tk:' .. pool .. ':' .. w.protocol .. ':' .. w.wantText
    if build then
      redis.call('ZDIFFSTORE', fk, 2, lz, tk)
      redis.call('HSET', frm, field, 1)
    elseif redis.call('HEXISTS', frm, field) == 0 then
      return nil
    end
    -- The other wanted ports, checked on the IPs read.
    local others = {}
    for _, k in ipairs(takenKeys) do
      if k ~= tk then others[#others + 1] = k end
    end
    local found, chosen = nil, nil
    local from, n = 0, 4
    while not found do
      local part = redis.call('ZRANGE', fk, from, from + n - 1, 'WITHSCORES')
      if #part == 0 then break end
      local ips, shown = {}, {}
      for i = 1, #part, 2 do
        ips[#ips + 1] = part[i]; shown[#shown + 1] = tonumber(part[i + 1])
      end
      local sc = redis.call('ZMSCORE', lz, unpack(ips))
      local isHeld = redis.call('SMISMEMBER', tk, unpack(ips))
      local right = true
      for j, ip in ipairs(ips) do
        if not sc[j] or isHeld[j] == 1 then
          redis.call('ZREM', fk, ip); right = false
        elseif tonumber(sc[j]) ~= shown[j] then
          redis.call('ZADD', fk, sc[j], ip); right = false
          -- Never so in a table kept as slot-index.lua says; read it from the start again.
          if tonumber(sc[j]) < shown[j] then from = 0 end
        end
      end
      if right then
        local inTenant = redis.call('SMISMEMBER', tens, unpack(ips))
        local cands = {}
        for j, ip in ipairs(ips) do
          if ip ~= cur and inTenant[j] == 0 then cands[#cands + 1] = ip end
        end
        for _, ip in ipairs(freeOn(cands, others)) do
          chosen = attempt(ip, false)
          if chosen then found = ip; break end
        end
        from = from + #ips
        if n < 1024 then n = n * 2 end
      end
    end
    -- This Service's quarantined slots may be less loaded.
    local cands = {}
    for _, ip in ipairs(mine) do
      if ip ~= cur and redis.call('SISMEMBER', tens, ip) == 0 then cands[#cands + 1] = ip end
    end
    if #cands == 0 then
      if not found then return false end
      return { ip = found, chosen = chosen }
    end
    if found then cands[#cands + 1] = found end
    return tryEach(freeOn(cands, takenKeys), false) or false
  end
  if wantsInRange then
    -- A wanted port marked held on every IP of the tenant's (full:, slot-index.lua): of
    -- those, only IPs where it is quarantined for this Service can take it.
    local full = fullKey(P, pool, a.cluster)
    local isFull = false
    local fields = {}
    for i, w in ipairs(req.ports) do fields[i] = fullField(w.protocol, w.wantText) end
    for _, mark in ipairs(perMember('HMGET', full, fields)) do
      if mark then isFull = true; break end
    end
    local got, all = nil, true
    if not isFull then got, all = walkTenant(false, 16, takenKeys) end
    if got then return got end
    if isFull or not all then
      -- The front did not fit: of the rest, only IPs where every wanted port is free (or
      -- quarantined for this Service) can, and the least loaded of those is the answer.
      -- Port by port, so a port held on all of them is marked so.
      local free = {}
      if not isFull then
        for i, w in ipairs(req.ports) do
          local part = {}
          if i == 1 then
            part = redis.call('SDIFF', tens, takenKeys[1])
          else
            for _, ip in ipairs(free) do
              if redis.call('SISMEMBER', takenKeys[i], ip) == 0 then part[#part + 1] = ip end
            end
          end
          -- None left: marked when this port alone is held on all of them.
          if #part == 0 and (i == 1 or redis.call('SDIFF', tens, takenKeys[i])[1] == nil) then
            redis.call('HSET', full, fullField(w.protocol, w.wantText), 1)
          end
          free = part
          if #free == 0 then break end
        end
      end
      for _, ip in ipairs(mine) do
        if redis.call('SISMEMBER', tens, ip) == 1 then free[#free + 1] = ip end
      end
      got = tryEach(free, false)
      if got then return got end
    end
    local poolSize = redis.call('ZCARD', lz)
    local everywhere = false
    -- The wanted port held on the most IPs, and on how many.
    local most, mostHeld = 1, -1
    for i, k in ipairs(takenKeys) do
      local held = redis.call('SCARD', k)
      if held >= poolSize then everywhere = true end
      if held > mostHeld then most, mostHeld = i, held end
    end
    local fitsHere = function(ip)
      local chosen = attempt(ip, false)
      return chosen and { ip = ip, chosen = chosen }
    end
    if everywhere then
      -- Taken on every IP: only where this Service's own quarantined slots are.
      local rest = {}
      for _, ip in ipairs(mine) do
        if redis.call('SISMEMBER', tens, ip) == 0 then rest[#rest + 1] = ip end
      end
      got = tryEach(rest, false)
    else
      -- The walk, unless the port is in fr:; a walk past WALK_FR IPs (only where the port is
      -- held on more) goes on in fr:, built for it.
      if mostHeld > WALK_FR then got = nearlyFull(req.ports[most], false) end
      if got == nil and mostHeld > WALK_FR then
        local long
        got, long = scan(fitsHere, false, takenKeys, WALK_FR)
        if long then got = nearlyFull(req.ports[most], true) end
      elseif got == nil then
        got = scan(fitsHere, false, takenKeys)
      end
    end
    if got then return got end
  end

  -- Pass 2: ports with `any` may move to the lowest free port of the range.
  if cur ~= '' then
    local chosen = attempt(cur, true)
    if chosen then return { ip = cur, chosen = chosen } end
  end
  local got, all = walkTenant(true, 64, fixedKeys)
  if got then return got end
  if not all then got = tryEach(freeOn(redis.call('SMEMBERS', tens), fixedKeys), true) end
  if got then return got end
  got = scan(function(ip)
    local chosen = attempt(ip, true)
    return chosen and { ip = ip, chosen = chosen }
  end, false, fixedKeys)
  if got then return got end

  -- Every IP of the pool is a candidate: the least loaded are the likeliest to have room.
  if scan(hasRoom, true) then return why() end
  return exhausted()
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
      newPorts[i] = w.protocol .. '/' .. w.portText .. '=' .. got.chosen[i].extText
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
-- Every new slot is on newIp: its load (lz, and every tz it is in) moves once, by all of them.
local took = 0
for _, s in ipairs(newSlots) do
  local own = P .. 'own:' .. newPool
  local o = seenHolder[s]
  if o == nil then o = redis.call('HGET', own, s) end
  if o ~= a.owner then
    local ip, proto, port = split(s)
    if o == ('~' .. a.owner) then
      redis.call('ZREM', P .. 'q:' .. newPool, s)
      redis.call('HSET', own, s, a.owner)
      slotQuarantined(P, newPool, a.owner, ip, -1)
    else
      slotTake(P, newPool, ip, proto, port, a.owner, true)
      took = took + 1
    end
  end
end
if took > 0 then slotLoad(P, newPool, newIp, took) end

-- Tenant packing counts follow the Allocated state (the quota ledger is settled after); a
-- Service that stays on its IP leaves them as they are (-1 then +1 there changes nothing).
local staysOnIp = old.allocated and newState == 'Allocated' and old.pool == newPool and old.ip == newIp
if old.allocated and not staysOnIp then tenantCount(P, old.pool, a.cluster, old.ip, -1) end
if newState == 'Allocated' and not staysOnIp then tenantCount(P, newPool, a.cluster, newIp, 1) end
if old.allocated and newState ~= 'Allocated' then redis.call('INCR', P .. 'epoch') end

-- A Service is in waiting, resp. released, exactly while its record in this tag is Pending,
-- resp. Released (every script that writes its record keeps them so, and evict.lua and
-- forget.lua drop the entry with the record; Gateways and Ingresses follow l7-apply.lua's
-- rule), so only a change of that state touches them.
local wasHere = recHere and rec.state or ''
if newState == 'Pending' then
  if wasHere ~= 'Pending' then redis.call('ZADD', P .. 'waiting', 'NX', a.nowText, a.owner) end
elseif wasHere == 'Pending' then
  redis.call('ZREM', P .. 'waiting', a.owner)
end
if newState == 'Released' then
  redis.call('ZADD', P .. 'released', a.nowText, a.owner)
elseif wasHere == 'Released' then
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
