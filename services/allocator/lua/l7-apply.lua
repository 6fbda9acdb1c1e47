-- Applies one Gateway's or Ingress's L7 placement to the slot table, atomically.
-- The placement is decided in TS (src/domain/l7-placement.ts) on a snapshot of the pool;
-- this script commits it only if that snapshot is still the truth: the pool's L7 version is
-- the one it saw, every TCP slot it takes is free or an L7 slot of the same kind (a Service
-- may have taken it meanwhile), and the tenant's quota was reserved in its ledger before (src/adapters/table-keys.ts). Otherwise it returns
-- `moved` and the caller plans again. Same fences as apply.lua (sequence, uid).
-- KEYS[1]: the prefix of the pool's hash tag (the record's home). ARGV[1]: JSON { mode = claim|release, retry?, owner, kind, cluster,
--   namespace, name, uid, generation, seq, now, releaseDelayMs, pool, ver?, claims =
--   [{ ip, port, hostname, kind }], state, reason, message, listeners (JSON string), waits,
--   costServices, costPorts, quotaServices, quotaPorts, resource (JSON string) }
-- (record-fence.lua and l7-claims.lua come first: the record `rec`, `reply`, the fences, the claim keys.)
if a.retry then
  if not rec or rec.seq ~= a.seq or not rec.waits then return reply('unchanged', rec) end
elseif rec and rec.seq == a.seq then
  return reply('unchanged', rec)
end

-- Costs and claims of a record in another pool's tag (a move) are freed there (evict.lua).
local oldCostS = (rec and recHere) and rec.costServices or 0
local oldCostP = (rec and recHere) and rec.costPorts or 0

if a.mode == 'claim' and a.ver ~= nil then
  local ver = tonumber(redis.call('GET', P .. 'l7ver:' .. a.pool) or '0')
  if ver ~= tonumber(a.ver) then return cjson.encode({ outcome = 'moved' }) end
  for _, c in ipairs(a.claims) do
    if not l7Usable(P, a.pool, c) then return cjson.encode({ outcome = 'moved' }) end
  end
end

local function field(ip, port, hostname) return ip .. '|' .. port .. '|' .. a.owner .. '|' .. hostname end

local freedAny = false
local function freeClaim(pool, ip, port, f)
  l7Free(P, pool, ip, port, f)
  freedAny = true
end

-- Claims leave through quarantine, so stale clients never reach another tenant.
local function releaseClaim(pool, c)
  local f = field(c.ip, c.port, c.hostname)
  if a.releaseDelayMs > 0 then
    redis.call('HSET', P .. 'l7c:' .. pool, f, '~' .. a.cluster)
    redis.call('ZADD', P .. 'l7q:' .. pool, a.now + a.releaseDelayMs, f)
  else
    freeClaim(pool, c.ip, c.port, f)
  end
  l7Bump(P, pool)
end

local function parseClaims(text)
  local out = {}
  for ip, port, hostname in string.gmatch(text or '', '([^|,]+)|(%d+)|([^,]*)') do
    out[#out + 1] = { ip = ip, port = tonumber(port), hostname = hostname }
  end
  return out
end

local newClaims, newPool = {}, ''
if a.mode == 'claim' then newClaims = a.claims; newPool = a.pool end
local oldClaims, oldPool = {}, ''
if rec and recHere then oldClaims = parseClaims(rec.claims); oldPool = rec.pool end

local keepNew = {}
for _, c in ipairs(newClaims) do keepNew[newPool .. '#' .. c.ip .. '|' .. c.port .. '|' .. c.hostname] = true end
local hadOld = {}
for _, c in ipairs(oldClaims) do
  local k = oldPool .. '#' .. c.ip .. '|' .. c.port .. '|' .. c.hostname
  hadOld[k] = true
  if not keepNew[k] then releaseClaim(oldPool, c) end
end
local strs = {}
for i, c in ipairs(newClaims) do
  if not hadOld[newPool .. '#' .. c.ip .. '|' .. c.port .. '|' .. c.hostname] then l7Take(P, newPool, a.owner, a.cluster, c) end
  strs[i] = c.ip .. '|' .. c.port .. '|' .. c.hostname
end

local costS, costP = 0, 0
if a.mode == 'claim' then costS = a.costServices; costP = a.costPorts end
-- Capacity or quota came free: waiting objects (Services too) are retried.
if freedAny or costS < oldCostS or costP < oldCostP then redis.call('INCR', P .. 'epoch') end

local state, reason, message, listeners, waits = 'Released', '', '', '[]', false
if a.mode == 'claim' then state = a.state; reason = a.reason; message = a.message; listeners = a.listeners; waits = a.waits end
if waits then redis.call('ZADD', P .. 'waiting', 'NX', a.now, a.owner) else redis.call('ZREM', P .. 'waiting', a.owner) end
if state == 'Released' then redis.call('ZADD', P .. 'released', a.now, a.owner) else redis.call('ZREM', P .. 'released', a.owner) end

local newClaimText = table.concat(strs, ',')
local ip = ''
if #newClaims > 0 then ip = newClaims[1].ip end
local generation = a.generation or (rec and rec.generation) or 0
local function same(r)
  return r and r.state == state and r.pool == newPool and r.ip == ip and r.reason == reason and r.message == message
    and r.uid == a.uid and r.claims == newClaimText and r.listeners == listeners and r.generation == generation
end
local changed = not same(rec)
return commit({
  kind = a.kind, generation = generation, state = state, reason = reason, message = message,
  pool = newPool, ip = ip, claims = newClaimText, costServices = costS, costPorts = costP,
  listeners = listeners, waits = waits, resource = a.resource or (rec and rec.resource) or '',
}, changed)
