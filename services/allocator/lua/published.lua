-- Marks a record's version as published (the outbox entry goes away), and remembers the
-- allocation's stream sequence for later purging. KEYS[1]: prefix; ARGV: owner, version,
-- allocSeq, note? (a send note of this pool's `sending` zset, written by the apply: its sender
-- is done once the version it sent is the one marked, so it ends here, in the same call).
-- Returns 0 (not this version), 1 (marked), 2 (marked, and the note ended).
local P = KEYS[1]
local key = P .. 'svc:' .. ARGV[1]
local raw = redis.call('GET', key)
if not raw then return 0 end
-- The record as cjson wrote it: its own keys are the only unescaped `"version":` and
-- `"allocSeq":` in it (those inside its JSON strings, the Service and the messages, are
-- escaped), so both are found in the text (plain finds) and allocSeq is written there,
-- without decoding and encoding the whole record.
local function once(key)
  local i = string.find(raw, key, 1, true)
  if not i or string.find(raw, key, i + 1, true) then return nil end
  local digits = string.match(raw, '^%d+', i + #key)
  if not digits then return nil end
  local after = string.sub(raw, i + #key + #digits, i + #key + #digits)
  if after ~= ',' and after ~= '}' then return nil end
  return i, digits
end
local vi, version = once('"version":')
local si, seq = once('"allocSeq":')
if vi and si then
  if tonumber(version) ~= tonumber(ARGV[2]) then return 0 end
  local at = si + #'"allocSeq":'
  raw = string.sub(raw, 1, at - 1) .. string.format('%d', tonumber(ARGV[3])) .. string.sub(raw, at + #seq)
  redis.call('SET', key, raw)
else
  local rec = cjson.decode(raw)
  if rec.version ~= tonumber(ARGV[2]) then return 0 end
  rec.allocSeq = tonumber(ARGV[3])
  redis.call('SET', key, cjson.encode(rec))
end
redis.call('ZREM', P .. 'outbox', ARGV[1])
if ARGV[4] then return 1 + redis.call('ZREM', P .. 'sending', ARGV[4]) end
return 1
