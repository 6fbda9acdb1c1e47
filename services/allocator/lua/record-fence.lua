-- The start of apply.lua and l7-apply.lua (src/adapters/lua-scripts.ts prepends it):
-- reads the object's record and applies the fences every change of a record must pass.
-- KEYS[1]: the key prefix of the pool (hash tag) the record lives in, or is moving to.
-- a: the change, read by the script that includes this (apply.lua's from its arguments,
-- apply-args.lua; l7-apply.lua's from the JSON of ARGV[1]), with at least owner, mode, retry?,
-- uid, seq; prev? (the record as it is in another pool's tag, when the object moves here: the
-- fences and its version carry on from it, its slots there are freed by evict.lua once this
-- pool holds the record).
local P = KEYS[1]
-- An empty table (Redis lost its data) must be re-imported before anything is claimed,
-- or a new Service could take a slot a live one still holds.
if redis.call('EXISTS', P .. 'ready') == 0 then return cjson.encode({ outcome = 'unready' }) end
local recKey = P .. 'svc:' .. a.owner
local recRaw = redis.call('GET', recKey)
local rec = nil
if recRaw then rec = cjson.decode(recRaw) elseif a.prev then rec = cjson.decode(a.prev) end
-- Slots and claims of `rec` are in this tag only when the record lives here.
local recHere = recRaw ~= false

-- note? (a Service's apply): the member of a send note. When the reply asks for a publish,
-- the note is written here, in the pool's `sending` zset, so the send is noted in the same
-- call as the commit; published.lua ends it when the version it sent is marked published. A
-- note left behind (the sender died, or its send failed) is finished by the janitor
-- (src/app/owner-publisher.ts), as one written by SlotStore.beginSend.
-- `text`: r as JSON, when the caller has it (just written, or as read): the record goes
-- into the reply as that text, not encoded again (it carries the Service, the biggest part
-- of every call). The record as read (`rec` from recRaw) is such text too.
-- `queued`: true when the caller has just put the owner in the outbox (no need to ask).
-- The reply's own fields are a few fixed names, a word and three flags: written as text.
local function reply(outcome, r, text, stored, queued)
  local pending = queued or redis.call('ZSCORE', P .. 'outbox', a.owner) ~= false
  local noted = false
  if pending and r and a.note then
    redis.call('ZADD', P .. 'sending', a.nowText or a.now, a.note)
    noted = true
  end
  if stored == nil then stored = redis.call('EXISTS', recKey) == 1 end
  local out = '{"outcome":"' .. outcome .. '","publish":' .. tostring(pending) .. ',"stored":' .. tostring(stored)
    .. ',"noted":' .. tostring(noted)
  if r and not text and r == rec and recRaw then text = recRaw end
  if not r then return out .. '}' end
  if not text then text = cjson.encode(r) end
  return out .. ',"record":' .. text .. '}'
end

-- Ordering: an older resource event never overwrites a newer one. Except: a tombstone
-- handled first (another replica) released an object that a re-created one (another uid,
-- created after it) had already replaced in the stream; that tombstone never applied to the
-- re-created Service, so its event still does.
if rec and rec.seq > a.seq then
  local recreated = a.mode ~= 'release' and not a.retry and rec.state == 'Released'
    and a.uid ~= '' and a.uid ~= rec.uid and a.seq > (rec.incarnationSeq or rec.seq)
  if not recreated then return reply('stale', rec) end
end
-- Incarnation fence: a deletion names the object it deleted. A late tombstone of an
-- earlier object with the same name (another uid) must not release the one held now.
if a.mode == 'release' and rec and a.uid ~= '' and rec.uid ~= '' and rec.uid ~= a.uid then
  return reply('staleIncarnation', rec)
end

-- Writes the new record `nr` (its own fields set), carrying what every record keeps; a
-- changed one gets a new version and goes to the outbox, to be published.
local function commit(nr, changed)
  nr.owner = a.owner; nr.cluster = a.cluster; nr.namespace = a.namespace; nr.name = a.name; nr.uid = a.uid; nr.seq = a.seq
  nr.version = rec and rec.version or 0
  nr.resourceSequence = rec and rec.resourceSequence or a.seq
  nr.allocSeq = rec and rec.allocSeq or 0
  nr.releasedAt = (nr.state == 'Released') and a.now or 0
  -- Sequence of the first event of this object (uid): older events of other objects are stale.
  nr.incarnationSeq = (rec and rec.uid == a.uid) and (rec.incarnationSeq or rec.seq) or a.seq
  if changed then
    nr.version = nr.version + 1
    nr.resourceSequence = a.seq
    redis.call('ZADD', P .. 'outbox', a.nowText or a.now, a.owner)
  end
  local text = cjson.encode(nr)
  redis.call('SET', recKey, text)
  return reply(changed and 'applied' or 'unchanged', nr, text, true, changed)
end
