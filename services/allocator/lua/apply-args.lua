-- apply.lua's change as positional arguments (src/adapters/slot-store.ts writes them in this
-- order), so nothing is decoded as JSON: plain strings, numbers in decimal, flags '1' or '':
--   mode, retry, owner, cluster, namespace, name, uid, seq, now, releaseDelayMs,
--   resource (the Service as JSON, kept opaque; '' = none, a release), prev, quotaDenied,
--   note ('' = none, each: record-fence.lua and apply.lua say what they are), then
--   reject: the rejection's reason and message;
--   claim:  pool, pinned, the pinned IP ('' = none), the range's lo and hi, the number of
--           ports, then protocol, port, want, remap of each port.
-- Returns the change as apply.lua and record-fence.lua read it (`a`). Numbers come as numbers
-- and, where scripts put them into keys or commands, as their text too (nowText, portText,
-- wantText): Lua and Redis write a number as text with printf, which took a tenth of Redis's
-- time in claims.
local function changeArgs(v)
  local function opt(s)
    if s == '' then return nil end
    return s
  end
  local a = {
    mode = v[1], retry = v[2] == '1', owner = v[3], cluster = v[4], namespace = v[5], name = v[6], uid = v[7],
    seq = tonumber(v[8]), now = tonumber(v[9]), nowText = v[9], releaseDelayMs = tonumber(v[10]),
    resource = opt(v[11]), prev = opt(v[12]), quotaDenied = opt(v[13]), note = opt(v[14]),
  }
  if a.mode == 'reject' then
    a.rejection = { reason = v[15], message = v[16] }
  elseif a.mode == 'claim' then
    local req = { pool = v[15], pinned = v[16] == '1', ips = {}, range = { lo = tonumber(v[18]), hi = tonumber(v[19]) }, ports = {} }
    if v[17] ~= '' then req.ips[1] = v[17] end
    for i = 1, tonumber(v[20]) do
      local at = 20 + (i - 1) * 4
      req.ports[i] = {
        protocol = v[at + 1], port = tonumber(v[at + 2]), portText = v[at + 2], want = tonumber(v[at + 3]), wantText = v[at + 3],
        remap = v[at + 4] == '1',
      }
    end
    a.request = req
  end
  return a
end
