-- Marks a record's version as published (the outbox entry goes away), and remembers the
-- allocation's stream sequence for later purging. KEYS[1]: prefix; ARGV: owner, version,
-- allocSeq, note? (a send note of this pool's `sending` zset, written by the apply: its sender
-- is done once the version it sent is the one marked, so it ends here, in the same call).
-- Returns 0 (not this version), 1 (marked), 2 (marked, and the note ended).
local P = KEYS[1]
local key = P .. 'svc:' .. ARGV[1]
local raw = redis.call('GET', key)
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.version ~= tonumber(ARGV[2]) then return 0 end
rec.allocSeq = tonumber(ARGV[3])
redis.call('SET', key, cjson.encode(rec))
redis.call('ZREM', P .. 'outbox', ARGV[1])
if ARGV[4] then return 1 + redis.call('ZREM', P .. 'sending', ARGV[4]) end
return 1
