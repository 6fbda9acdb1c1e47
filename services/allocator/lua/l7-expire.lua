-- Frees quarantined L7 hostname claims whose delay has passed; an (IP, port) with no claim
-- left is free for Services again (l7-claims.lua comes first). KEYS[1]: the pool's prefix (its hash tag); ARGV: now,
-- limit, pool. Returns claims freed.
local P = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local freed = 0
local pool = ARGV[3]
do
  local due = redis.call('ZRANGEBYSCORE', P .. 'l7q:' .. pool, '-inf', now, 'LIMIT', 0, limit)
  for _, f in ipairs(due) do
    local v = redis.call('HGET', P .. 'l7c:' .. pool, f)
    if v and string.sub(v, 1, 1) == '~' then
      local ip, port = string.match(f, '^([^|]+)|(%d+)|')
      l7Free(P, pool, ip, port, f)
      freed = freed + 1
    end
    redis.call('ZREM', P .. 'l7q:' .. pool, f)
  end
  if #due > 0 then l7Bump(P, pool) end
end
if freed > 0 then redis.call('INCR', P .. 'epoch') end
return freed
