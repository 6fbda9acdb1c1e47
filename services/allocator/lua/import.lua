-- Re-imports one published allocation into an empty slot table (Redis lost its data).
-- KEYS[1]: the prefix of the record's home pool (a.pool when Allocated); the quota ledger
-- is settled from the record afterwards. ARGV[1]: JSON { owner, cluster, namespace, name, uid, state, pool, ip,
-- ports, reason, message, seq, resourceSequence, version, allocSeq, resource, now }; resource is
-- the Service as a JSON string ('' when the stream no longer has it). The record written is
-- the flat one apply.lua keeps.
-- Existing records win; a slot already taken is never stolen (the Service then waits).
-- (slot-index.lua comes first: the slot table's indexes.)
local P = KEYS[1]
local a = cjson.decode(ARGV[1])
local key = P .. 'svc:' .. a.owner
if redis.call('EXISTS', key) == 1 then return 'exists' end
local state = a.state
local slots = {}
local claims = {}
if state == 'Allocated' then
  local own = P .. 'own:' .. a.pool
  for i, p in ipairs(a.ports) do
    claims[i] = p.protocol .. '/' .. p.port .. '=' .. p.externalPort
    local slot = a.ip .. '|' .. p.protocol .. '|' .. p.externalPort
    if redis.call('HEXISTS', own, slot) == 1 then state = 'Pending' end
    slots[i] = slot
  end
  if state == 'Allocated' then
    for _, slot in ipairs(slots) do
      local ip, proto, port = string.match(slot, '^(.*)|(%u+)|(%d+)$')
      slotTake(P, a.pool, ip, proto, port, a.owner)
    end
    tenantCount(P, a.pool, a.cluster, a.ip, 1)
  else
    slots = {}
  end
end
local rec = {
  owner = a.owner, cluster = a.cluster, namespace = a.namespace, name = a.name, uid = a.uid,
  seq = a.seq, resourceSequence = a.resourceSequence, version = a.version, state = state,
  pool = (state == 'Allocated') and a.pool or '', ip = (state == 'Allocated') and a.ip or '',
  claims = (state == 'Allocated') and table.concat(claims, ',') or '',
  reason = (state == a.state) and a.reason or 'PortUnavailable',
  message = (state == a.state) and a.message or 'slot taken while re-importing after Redis data loss',
  resource = a.resource, allocSeq = a.allocSeq, incarnationSeq = a.seq, releasedAt = (state == 'Released') and a.now or 0,
}
redis.call('SET', key, cjson.encode(rec))
if state == 'Pending' then redis.call('ZADD', P .. 'waiting', 'NX', a.now, a.owner) end
if state == 'Released' then redis.call('ZADD', P .. 'released', a.now, a.owner) end
if state ~= a.state then
  rec.version = rec.version + 1
  redis.call('SET', key, cjson.encode(rec))
  redis.call('ZADD', P .. 'outbox', a.now, a.owner)
end
return state
