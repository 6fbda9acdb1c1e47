-- The slot table and its indexes, for every script that takes or frees an (IP, protocol,
-- port) slot (src/adapters/lua-scripts.ts prepends this). Per pool:
--   own:<pool>              hash `ip|PROTO|port` = owner (`~owner` quarantined, `@l7:kind` L7)
--   bits:<pool>:<ip>:<PROTO> bitmap of held ports (BITPOS finds a free one to remap to)
--   load:<pool>             hash ip = slots held (quarantined and L7 ones included)
--   lz:<pool>               zset of the pool's IPs, score load * LZ_STRIDE + pool index, so
--                           ZRANGE gives "least loaded, then pool order" without a sort;
--                           written whole by pool-index.lua, moved here with the load
--   tk:<pool>:<PROTO>:<port> set of IPs on which that port is held: SCARD says at once
--                           whether the port is taken on every IP, SDIFF filters the
--                           tenant's IPs down to those where it is free
--   oq:<pool>:<owner>       hash ip = quarantined slots the owner still has there (they
--                           stay usable by it, so they are candidates even where taken)
--   ten:<pool>:<cluster>    hash ip = the tenant cluster's Allocated Services there;
--   tens:<pool>:<cluster>   the same IPs as a set (for SDIFF) and
--   tz:<pool>:<cluster>     as a sorted set with the lz score, so packing walks the
--                           tenant's IPs least loaded first like the pool's
--   ipt:<pool>:<ip>         hash cluster = Services: whose tz a load change must move
--   full:<pool>:<cluster>   hash `PROTO:port` = 1: that port is held on every IP of the
--                           tenant's (tens), as a claim found (an empty SDIFF), so the next
--                           claims of it skip the walk of the tenant's IPs. Freeing the port
--                           on one of them, or the tenant gaining an IP where it is free,
--                           drops the mark (slotFree, tenantCount).
--   fr:<pool>:<PROTO>:<port> zset: every IP of the pool where that port is free (maybe also
--                           some where it is not), scored at most its lz score, kept only for
--                           the ports in frm:<pool> (hash `PROTO:port` = 1): those held on so
--                           many IPs that a claim would walk past all of them in lz to find
--                           one where it is free. The claim that first needs it builds it
--                           (apply.lua); a take leaves it (the IP's score only grows, and the
--                           claims that read it put such entries right); slotFree adds the IP
--                           and lowers its score in the others; pool-index.lua drops them all.
-- A claim touches these for its own ports only, never the pool's IP list.
local LZ_STRIDE = 131072 -- > 65,536 IPs per pool, so load never spills into the index

local function lzKey(P, pool) return P .. 'lz:' .. pool end

-- Integers as text, each written once per script call: Redis writes a number given to
-- redis.call as text with printf every time (with Lua's own, a tenth of its time in claims).
local intTexts = {}
local function int(n)
  local t = intTexts[n]
  if not t then
    t = tostring(n)
    intTexts[n] = t
  end
  return t
end

-- full:<pool>:<cluster> and its field for a port.
local function fullKey(P, pool, cluster) return P .. 'full:' .. pool .. ':' .. cluster end
local function fullField(proto, port) return proto .. ':' .. port end

-- frm:<pool> and fr:<pool>:<PROTO>:<port> (its fields are fullField's).
local function frmKey(P, pool) return P .. 'frm:' .. pool end
local function frKey(P, pool, proto, port) return P .. 'fr:' .. pool .. ':' .. proto .. ':' .. port end

local function slotLoad(P, pool, ip, delta)
  local n = redis.call('HINCRBY', P .. 'load:' .. pool, ip, int(delta))
  if n <= 0 then redis.call('HDEL', P .. 'load:' .. pool, ip) end
  -- Only IPs the pool index knows (pool-index.lua writes every IP of the pool): XX moves
  -- one that is there, and says so, with its new score.
  local score = redis.call('ZADD', lzKey(P, pool), 'XX', 'INCR', int(delta * LZ_STRIDE), ip)
  if score then
    -- Every tz holding the IP has it at its lz score (tenantCount, pool-index.lua): it gets
    -- the new one, as the text Redis just wrote (ZINCRBY would write its reply again).
    for _, cluster in ipairs(redis.call('HKEYS', P .. 'ipt:' .. pool .. ':' .. ip)) do
      redis.call('ZADD', P .. 'tz:' .. pool .. ':' .. cluster, score, ip)
    end
  end
end

-- Only as long as the highest port ever held there (a /16's IPs would take 8 KiB each
-- at full length): bits past the end are free ports (apply.lua's remap reads them so).
local function slotBits(P, pool, ip, proto)
  return P .. 'bits:' .. pool .. ':' .. ip .. ':' .. proto
end

-- Takes a free slot for `holder` (an owner, or `@l7:kind`). `later`: the caller counts it
-- in the IP's load itself (slotLoad once for all the slots it takes there).
local function slotTake(P, pool, ip, proto, port, holder, later)
  redis.call('HSET', P .. 'own:' .. pool, ip .. '|' .. proto .. '|' .. port, holder)
  redis.call('SETBIT', slotBits(P, pool, ip, proto), port, '1')
  redis.call('SADD', P .. 'tk:' .. pool .. ':' .. proto .. ':' .. port, ip)
  if not later then slotLoad(P, pool, ip, 1) end
end

-- Frees a held slot (any holder).
local function slotFree(P, pool, ip, proto, port)
  redis.call('HDEL', P .. 'own:' .. pool, ip .. '|' .. proto .. '|' .. port)
  redis.call('SETBIT', slotBits(P, pool, ip, proto), port, '0')
  redis.call('SREM', P .. 'tk:' .. pool .. ':' .. proto .. ':' .. port, ip)
  -- The port is free on an IP of each tenant there now: none of them has it full any more.
  for _, cluster in ipairs(redis.call('HKEYS', P .. 'ipt:' .. pool .. ':' .. ip)) do
    redis.call('HDEL', fullKey(P, pool, cluster), fullField(proto, port))
  end
  slotLoad(P, pool, ip, -1)
  -- fr: the port is free here now, and the IP less loaded for every port kept there.
  local fields = redis.call('HKEYS', frmKey(P, pool))
  local score = #fields > 0 and redis.call('ZSCORE', lzKey(P, pool), ip)
  if score then
    local mine = fullField(proto, port)
    for _, field in ipairs(fields) do
      local fproto, fport = string.match(field, '^(%u+):(%d+)$')
      if field == mine then
        redis.call('ZADD', frKey(P, pool, fproto, fport), score, ip)
      else
        redis.call('ZADD', frKey(P, pool, fproto, fport), 'XX', 'LT', score, ip)
      end
    end
  end
end

-- Counts a slot of `owner` on `ip` entering (+1) or leaving (-1) quarantine.
local function slotQuarantined(P, pool, owner, ip, delta)
  local k = P .. 'oq:' .. pool .. ':' .. owner
  if redis.call('HINCRBY', k, ip, int(delta)) <= 0 then redis.call('HDEL', k, ip) end
end

-- The tenant cluster's Allocated Services per IP of the pool (packing goes to these IPs
-- first): ten, tens, tz and ipt above.
local function tenantCount(P, pool, cluster, ip, delta)
  local k = P .. 'ten:' .. pool .. ':' .. cluster
  local n = redis.call('HINCRBY', k, ip, int(delta))
  local tz = P .. 'tz:' .. pool .. ':' .. cluster
  if n <= 0 then
    redis.call('HDEL', k, ip)
    redis.call('SREM', P .. 'tens:' .. pool .. ':' .. cluster, ip)
    redis.call('ZREM', tz, ip)
    redis.call('HDEL', P .. 'ipt:' .. pool .. ':' .. ip, cluster)
  elseif n - delta >= 1 then
    -- The IP was the tenant's already: it is in tens, and in tz at its lz score (slotLoad
    -- moves tz with lz for every cluster in ipt, pool-index.lua writes both); only the count
    -- in ipt changes.
    redis.call('HSET', P .. 'ipt:' .. pool .. ':' .. ip, cluster, int(n))
  else
    -- A new IP of the tenant's: a port marked full that is free here is full no more.
    local fk = fullKey(P, pool, cluster)
    for _, field in ipairs(redis.call('HKEYS', fk)) do
      local proto, port = string.match(field, '^(%u+):(%d+)$')
      if redis.call('HEXISTS', P .. 'own:' .. pool, ip .. '|' .. proto .. '|' .. port) == 0 then redis.call('HDEL', fk, field) end
    end
    redis.call('SADD', P .. 'tens:' .. pool .. ':' .. cluster, ip)
    redis.call('HSET', P .. 'ipt:' .. pool .. ':' .. ip, cluster, int(n))
    local score = redis.call('ZSCORE', lzKey(P, pool), ip)
    if score then redis.call('ZADD', tz, score, ip) end
  end
end
