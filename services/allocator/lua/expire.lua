-- Frees quarantined slots whose delay has passed (slot-index.lua comes first).
-- KEYS[1]: the pool's prefix (its hash tag); ARGV: now, limit, pool. Returns how many slots were freed (the capacity epoch
-- moves when any were).
local P = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local freed = 0
local pool = ARGV[3]
do
  local own = P .. 'own:' .. pool
  local due = redis.call('ZRANGEBYSCORE', P .. 'q:' .. pool, '-inf', now, 'LIMIT', 0, limit)
  for _, slot in ipairs(due) do
    local o = redis.call('HGET', own, slot)
    if o and string.sub(o, 1, 1) == '~' then
      local ip, proto, port = string.match(slot, '^(.*)|(%u+)|(%d+)$')
      slotFree(P, pool, ip, proto, port)
      slotQuarantined(P, pool, string.sub(o, 2), ip, -1)
      freed = freed + 1
    end
    redis.call('ZREM', P .. 'q:' .. pool, slot)
  end
end
if freed > 0 then redis.call('INCR', P .. 'epoch') end
return freed
