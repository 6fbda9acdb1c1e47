-- The tenants' quota ledgers and the objects' homes, under the allocator's global hash tag
-- (src/adapters/table-keys.ts). KEYS[1]: the global prefix. ARGV: the op, then its fields in
-- this order (plain strings: no JSON to decode; numbers as decimal, flags '1' or ''):
--   begin:  one or more begins, each: owner, home ('' = wherever the record is, else no
--             pool), cluster, s, p, limitS, limitP, what, portNote, first, n, then n owners
--             `also` — each as it would be alone, one after the other (the allocator sends
--             the begins due in the same turn of its event loop together); it notes `home` among the owner's homes
--             (before the record is written there, so a tombstone always finds it), then
--             checks the claim against the quota the tenant's other objects hold and reserves
--             what it would use (never lowering a reservation); also (owners, e.g. a
--             Service's second-family records): whether any of them has a home noted.
--             first (a Service's claim): when the owner has no home and no ledger entry (no
--             record of it exists anywhere), the reservation is written at version 1, the
--             version the claim's new record gets, and `fresh` says so: a claim that commits
--             version 1 holding just that skips its settle (src/adapters/table-keys.ts).
--             Returns, per begin, { entry (the owner's ledger entry as begin left it, '' if
--             none), raised (1: begin raised it), fresh (1), also (1), denied ('' or the
--             refusal), homes… (the owner's homes before) }, or the error's text when that
--             begin failed (the others still count): a settle that would write that same
--             entry is skipped.
--   settle: owner, home, stored, cluster, s, p, version — the ledger entry becomes what the
--             record (of `version`) holds, unless a newer version settled already; `home` is
--             noted again if it holds the record (a concurrent forget may have dropped it).
--   forget: owner, cluster — drops the owner's zero entry once its record is forgotten.
-- Ledger: quota:<cluster> hash owner = "services|ports|version"; quotat hash
-- `<cluster>|s`, `<cluster>|p` = their sums. homes:<owner> set of pools ('' = none).
local G = KEYS[1]
local op = ARGV[1]

-- Integers as text, each written once per call: Redis and Lua write a number as text with
-- printf every time.
local intTexts = {}
local function int(n)
  local t = intTexts[n]
  if not t then
    t = tostring(n)
    intTexts[n] = t
  end
  return t
end

-- One op on its fields (a): what the header says of it.
local function run(a)
  local hk = G .. 'homes:' .. a.owner
  local lk = G .. 'quota:' .. a.cluster
  local function entry()
    local raw = redis.call('HGET', lk, a.owner)
    if not raw then return 0, 0, 0, false end
    local s, p, v = string.match(raw, '^(%d+)|(%d+)|(%d+)$')
    return tonumber(s), tonumber(p), tonumber(v), raw
  end
  -- Returns the entry as written.
  local function put(s, p, v, oldS, oldP)
    -- A zero entry stays (with its version) so a late settle of an older version cannot
    -- raise it again; forget drops it with the record.
    local text = int(s) .. '|' .. int(p) .. '|' .. int(v)
    redis.call('HSET', lk, a.owner, text)
    if s ~= oldS then redis.call('HINCRBY', G .. 'quotat', a.cluster .. '|s', int(s - oldS)) end
    if p ~= oldP then redis.call('HINCRBY', G .. 'quotat', a.cluster .. '|p', int(p - oldP)) end
    -- Quota came free: waiting objects of any pool are retried (the janitor sums the epochs).
    if s < oldS or p < oldP then redis.call('INCR', G .. 'epoch') end
    return text
  end

  if a.op == 'begin' then
    local homes = redis.call('SMEMBERS', hk)
    -- `pools` only ever grows, and every home is noted there when first noted for an owner.
    if (a.home ~= '' or #homes == 0) and redis.call('SADD', hk, a.home) == 1 then
      redis.call('SADD', G .. 'pools', a.home)
    end
    local denied = nil
    local raised = false
    local fresh = false
    local cur = nil
    if a.s > 0 or a.p > 0 then
      local s0, p0, v0, raw0 = entry()
      cur = raw0
      do
        local sums = redis.call('HMGET', G .. 'quotat', a.cluster .. '|s', a.cluster .. '|p')
        local qs = tonumber(sums[1] or '0') - s0
        local qp = tonumber(sums[2] or '0') - p0
        if a.limitS > 0 and qs + a.s > a.limitS then
          denied = 'cluster ' .. a.cluster .. ' already has ' .. qs .. ' of ' .. a.limitS .. ' allowed ' .. a.what
        elseif a.limitP > 0 and qp + a.p > a.limitP then
          denied = 'cluster ' .. a.cluster .. ' would use ' .. (qp + a.p) .. ' of ' .. a.limitP .. ' allowed ports' .. a.portNote
        else
          raised = a.s > s0 or a.p > p0
          -- No home and no entry: no record of the owner exists, so a claim that commits now
          -- writes version 1 (and a settle of version 0 has nothing to settle).
          fresh = raised and a.first and #homes == 0 and not raw0
          if raised then
            local v = fresh and 1 or v0
            cur = put(math.max(s0, a.s), math.max(p0, a.p), v, s0, p0)
          end
        end
      end
    end
    -- A home is noted before its record is written, so none means no such record exists: a
    -- single-stack Service skips the read of its second-family record (src/app/allocator.ts).
    local also = 0
    if #a.also > 0 then
      local keys = {}
      for i, o in ipairs(a.also) do keys[i] = G .. 'homes:' .. o end
      if redis.call('EXISTS', unpack(keys)) > 0 then also = 1 end
    end
    if cur == nil and not (a.s > 0 or a.p > 0) then cur = redis.call('HGET', lk, a.owner) end
    return { cur or '', raised and 1 or 0, fresh and 1 or 0, also, denied or '', unpack(homes) }
  end

  if a.op == 'forget' then
    -- The record is gone: its zero entry and (unless a record came back there) its home.
    local s0, p0 = entry()
    if s0 == 0 and p0 == 0 then redis.call('HDEL', lk, a.owner) end
    return 'ok'
  end

  -- settle
  local s0, p0, v0 = entry()
  if a.version >= v0 then put(a.s, a.p, a.version, s0, p0) end
  if a.stored then redis.call('SADD', hk, a.home) end
  return 'ok'
end

if op == 'begin' then
  local out = {}
  local i = 2
  while i <= #ARGV do
    local n = tonumber(ARGV[i + 10])
    local a = { op = 'begin', owner = ARGV[i], home = ARGV[i + 1], cluster = ARGV[i + 2], s = tonumber(ARGV[i + 3]),
      p = tonumber(ARGV[i + 4]), limitS = tonumber(ARGV[i + 5]), limitP = tonumber(ARGV[i + 6]), what = ARGV[i + 7],
      portNote = ARGV[i + 8], first = ARGV[i + 9] == '1', also = {} }
    for k = 1, n do a.also[k] = ARGV[i + 10 + k] end
    local ok, r = pcall(run, a)
    if ok then out[#out + 1] = r else out[#out + 1] = 'ERR ' .. tostring(type(r) == 'table' and r.err or r) end
    i = i + 11 + n
  end
  return out
elseif op == 'settle' then
  return run({ op = 'settle', owner = ARGV[2], home = ARGV[3], stored = ARGV[4] == '1', cluster = ARGV[5], s = tonumber(ARGV[6]),
    p = tonumber(ARGV[7]), version = tonumber(ARGV[8]) })
end
return run({ op = 'forget', owner = ARGV[2], cluster = ARGV[3] })
