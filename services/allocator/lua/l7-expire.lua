-- Frees quarantined L7 hostname claims whose delay has passed; an (IP, port) with no claim
-- left is free for Services again. KEYS[1]: prefix; ARGV: now, limit. Returns claims freed.
local P = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local freed = 0
for _, pool in ipairs(redis.call('SMEMBERS', P .. 'pools')) do
  local due = redis.call('ZRANGEBYSCORE', P .. 'l7q:' .. pool, '-inf', now, 'LIMIT', 0, limit)
  for _, f in ipairs(due) do
    local v = redis.call('HGET', P .. 'l7c:' .. pool, f)
    if v and string.sub(v, 1, 1) == '~' then
      local ip, port = string.match(f, '^([^|]+)|(%d+)|')
      redis.call('HDEL', P .. 'l7c:' .. pool, f)
      local n = redis.call('HINCRBY', P .. 'l7n:' .. pool, ip .. '|' .. port, -1)
      if n <= 0 then
        redis.call('HDEL', P .. 'l7n:' .. pool, ip .. '|' .. port)
        redis.call('HDEL', P .. 'own:' .. pool, ip .. '|TCP|' .. port)
        redis.call('SETBIT', P .. 'bits:' .. pool .. ':' .. ip .. ':TCP', tonumber(port), 0)
        redis.call('HINCRBY', P .. 'load:' .. pool, ip, -1)
      end
      freed = freed + 1
    end
    redis.call('ZREM', P .. 'l7q:' .. pool, f)
  end
  if #due > 0 then redis.call('INCR', P .. 'l7ver:' .. pool) end
end
if freed > 0 then redis.call('INCR', P .. 'epoch') end
return freed
