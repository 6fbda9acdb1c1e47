-- Marks records' versions as published (the outbox entry goes away), and remembers each
-- allocation's stream sequence for later purging. KEYS[1]: prefix; ARGV: one or more marks,
-- four arguments each: owner, version, allocSeq, note ('' = none: a send note of this pool's
-- `sending` zset, written by the apply; its sender is done once the version it sent is the
-- one marked, so it ends here, in the same call). The allocator sends the marks of one pool
-- that are due at the same moment in one call (src/adapters/slot-store.ts); each is what it
-- would be alone, one after the other.
-- Returns one result per mark: 0 (not this version), 1 (marked), 2 (marked, and the note
-- ended), or the error's text when that mark failed (the others still count).
local P = KEYS[1]

local function mark(owner, version, allocSeq, note)
  local key = P .. 'svc:' .. owner
  local raw = redis.call('GET', key)
  if not raw then return 0 end
  -- The record as cjson wrote it: its own keys are the only unescaped `"version":` and
  -- `"allocSeq":` in it (those inside its JSON strings, the Service and the messages, are
  -- escaped), so both are found in the text (plain finds) and allocSeq is written there,
  -- without decoding and encoding the whole record.
  local function once(field)
    local i = string.find(raw, field, 1, true)
    if not i or string.find(raw, field, i + 1, true) then return nil end
    local digits = string.match(raw, '^%d+', i + #field)
    if not digits then return nil end
    local after = string.sub(raw, i + #field + #digits, i + #field + #digits)
    if after ~= ',' and after ~= '}' then return nil end
    return i, digits
  end
  local vi, current = once('"version":')
  local si, seq = once('"allocSeq":')
  if vi and si then
    if tonumber(current) ~= tonumber(version) then return 0 end
    local at = si + #'"allocSeq":'
    raw = string.sub(raw, 1, at - 1) .. string.format('%d', tonumber(allocSeq)) .. string.sub(raw, at + #seq)
    redis.call('SET', key, raw)
  else
    local rec = cjson.decode(raw)
    if rec.version ~= tonumber(version) then return 0 end
    rec.allocSeq = tonumber(allocSeq)
    redis.call('SET', key, cjson.encode(rec))
  end
  redis.call('ZREM', P .. 'outbox', owner)
  if note ~= '' then return 1 + redis.call('ZREM', P .. 'sending', note) end
  return 1
end

local out = {}
for i = 1, #ARGV, 4 do
  local ok, n = pcall(mark, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] or '')
  if ok then out[#out + 1] = n else out[#out + 1] = 'ERR ' .. tostring(type(n) == 'table' and n.err or n) end
end
return out
