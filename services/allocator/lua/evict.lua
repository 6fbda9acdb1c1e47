-- Takes a record out of a pool's tag after the object moved to another pool (that pool
-- already holds its newer record: make before break). Its slots and hostname claims leave
-- through quarantine, as on release; nothing is published from here. slot-index.lua and
-- l7-claims.lua come first.
-- KEYS[1]: the old pool's prefix. ARGV: owner, seq (of the record kept elsewhere), now,
-- releaseDelayMs. Returns 'evicted', 'none', or 'newer:<seq>' when the record here is newer
-- than the one kept (another replica applied a later event here): the caller evicts the
-- other one instead.
local P = KEYS[1]
local owner = ARGV[1]
local keptSeq = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local delay = tonumber(ARGV[4])
local recKey = P .. 'svc:' .. owner
local raw = redis.call('GET', recKey)
if not raw then return 'none' end
local rec = cjson.decode(raw)
if rec.seq > keptSeq then return 'newer:' .. rec.seq end
local freed = false
if rec.kind then
  for ip, port, hostname in string.gmatch(rec.claims or '', '([^|,]+)|(%d+)|([^,]*)') do
    local f = ip .. '|' .. port .. '|' .. owner .. '|' .. hostname
    if delay > 0 then
      redis.call('HSET', P .. 'l7c:' .. rec.pool, f, '~' .. rec.cluster)
      redis.call('ZADD', P .. 'l7q:' .. rec.pool, now + delay, f)
    else
      l7Free(P, rec.pool, ip, port, f)
      freed = true
    end
    l7Bump(P, rec.pool)
  end
elseif rec.state == 'Allocated' then
  for proto, port, ext in string.gmatch(rec.claims or '', '(%u+)/(%d+)=(%d+)') do
    local slot = rec.ip .. '|' .. proto .. '|' .. ext
    if delay > 0 then
      redis.call('HSET', P .. 'own:' .. rec.pool, slot, '~' .. owner)
      redis.call('ZADD', P .. 'q:' .. rec.pool, now + delay, slot)
      slotQuarantined(P, rec.pool, owner, rec.ip, 1)
    else
      slotFree(P, rec.pool, rec.ip, proto, ext)
      freed = true
    end
  end
  tenantCount(P, rec.pool, rec.cluster, rec.ip, -1)
end
redis.call('DEL', recKey)
redis.call('ZREM', P .. 'outbox', owner)
redis.call('ZREM', P .. 'waiting', owner)
redis.call('ZREM', P .. 'released', owner)
if freed or rec.state == 'Allocated' then redis.call('INCR', P .. 'epoch') end
return 'evicted'
