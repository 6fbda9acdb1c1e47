-- Writes part of a pool's IP index lz:<pool> (slot-index.lua comes first): each IP's score
-- is its current load and its place in the pool. Idempotent, so replicas that start
-- together may all write it. KEYS[1]: prefix; ARGV: pool, index of the first IP, IPs...
local P = KEYS[1]
local pool = ARGV[1]
local first = tonumber(ARGV[2])
local load = P .. 'load:' .. pool
for i = 3, #ARGV do
  local n = tonumber(redis.call('HGET', load, ARGV[i]) or '0')
  local score = string.format('%.0f', n * LZ_STRIDE + first + i - 3)
  redis.call('ZADD', lzKey(P, pool), score, ARGV[i])
  for _, cluster in ipairs(redis.call('HKEYS', P .. 'ipt:' .. pool .. ':' .. ARGV[i])) do
    redis.call('ZADD', P .. 'tz:' .. pool .. ':' .. cluster, score, ARGV[i])
  end
end
-- The fr: sets (slot-index.lua) may lack a new IP, or show one above its new score: they
-- go (claims build them again).
for _, field in ipairs(redis.call('HKEYS', frmKey(P, pool))) do
  local proto, port = string.match(field, '^(%u+):(%d+)$')
  redis.call('DEL', frKey(P, pool, proto, port))
end
redis.call('DEL', frmKey(P, pool))
return #ARGV - 2
