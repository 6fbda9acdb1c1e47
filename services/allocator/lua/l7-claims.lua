-- Hostname claims in the slot table, for l7-apply.lua and l7-import.lua (prepended by
-- src/adapters/lua-scripts.ts, after slot-index.lua). Keys: own:<pool> `ip|TCP|port` = `@l7:http|tls` while any L7
-- claim holds the slot (so a Service never gets it); l7c:<pool> `ip|port|owner|hostname` =
-- cluster (`~cluster` in quarantine); l7n:<pool> `ip|port` = claims on the slot;
-- l7q:<pool> quarantine expiry; l7ver:<pool> moves with every change of the pool's claims.
local function l7Bump(P, pool) redis.call('INCR', P .. 'l7ver:' .. pool) end
local function l7Slot(ip, port) return ip .. '|TCP|' .. port end

-- Takes (or takes back from quarantine) the claim of `owner` (of tenant `cluster`) c = { ip, port, hostname, kind }.
local function l7Take(P, pool, owner, cluster, c)
  local f = c.ip .. '|' .. c.port .. '|' .. owner .. '|' .. c.hostname
  local cur = redis.call('HGET', P .. 'l7c:' .. pool, f)
  if not cur then
    local n = redis.call('HINCRBY', P .. 'l7n:' .. pool, c.ip .. '|' .. c.port, 1)
    if n == 1 then slotTake(P, pool, c.ip, 'TCP', c.port, '@l7:' .. c.kind) end
  else
    redis.call('ZREM', P .. 'l7q:' .. pool, f)
  end
  redis.call('HSET', P .. 'l7c:' .. pool, f, cluster)
  l7Bump(P, pool)
end

-- A Service may hold the slot, or L7 of the other protocol family: then the claim cannot be taken.
local function l7Usable(P, pool, c)
  local o = redis.call('HGET', P .. 'own:' .. pool, l7Slot(c.ip, c.port))
  return (not o) or o == ('@l7:' .. c.kind)
end

-- Frees claim field f on (ip, port); the slot is free again (for Services too) with its last claim.
local function l7Free(P, pool, ip, port, f)
  redis.call('HDEL', P .. 'l7c:' .. pool, f)
  redis.call('ZREM', P .. 'l7q:' .. pool, f)
  local n = redis.call('HINCRBY', P .. 'l7n:' .. pool, ip .. '|' .. port, -1)
  if n <= 0 then
    redis.call('HDEL', P .. 'l7n:' .. pool, ip .. '|' .. port)
    slotFree(P, pool, ip, 'TCP', port)
  end
end
