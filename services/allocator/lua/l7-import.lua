-- Re-imports one published L7 allocation into an empty slot table (Redis lost its data);
-- l7-claims.lua comes first. KEYS[1]: the prefix of the record's home pool (the quota ledger is settled afterwards). ARGV[1]: JSON { record (the flat record
-- l7-apply.lua keeps, built from the allocation), claims = [{ ip, port, hostname, kind }],
-- republish (the record differs from what was published), now }. Existing records win; a slot a Service or another protocol family holds is never
-- taken (the object then waits and is planned again).
local P = KEYS[1]
local a = cjson.decode(ARGV[1])
local r = a.record
local key = P .. 'svc:' .. r.owner
if redis.call('EXISTS', key) == 1 then return 'exists' end
local taken = #a.claims > 0
for _, c in ipairs(a.claims) do
  if not l7Usable(P, r.pool, c) then taken = false end
end
if taken then
  for _, c in ipairs(a.claims) do l7Take(P, r.pool, r.owner, r.cluster, c) end
elseif #a.claims > 0 then
  r.state = 'Pending'; r.reason = 'PortUnavailable'; r.message = 'slot taken while re-importing after Redis data loss'
  r.ip = ''; r.claims = ''; r.costServices = 0; r.costPorts = 0; r.listeners = '[]'; r.waits = true
  r.version = r.version + 1
  a.republish = true
end
if a.republish then redis.call('ZADD', P .. 'outbox', a.now, r.owner) end
redis.call('SET', key, cjson.encode(r))
if r.waits then redis.call('ZADD', P .. 'waiting', 'NX', a.now, r.owner) end
if r.state == 'Released' then redis.call('ZADD', P .. 'released', a.now, r.owner) end
return r.state
