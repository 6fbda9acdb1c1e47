-- Forgets a Released Service once its tombstone and allocation have been purged from the
-- streams. KEYS[1]: prefix; ARGV: owner, version. Only if nothing changed meanwhile.
local P = KEYS[1]
local key = P .. 'svc:' .. ARGV[1]
local raw = redis.call('GET', key)
if not raw then
  redis.call('ZREM', P .. 'released', ARGV[1])
  return 1
end
local rec = cjson.decode(raw)
if rec.state ~= 'Released' or rec.version ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', key)
redis.call('ZREM', P .. 'released', ARGV[1])
return 1
