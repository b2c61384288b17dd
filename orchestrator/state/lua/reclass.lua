--[[
  Opens a tile starved in its class to the other classes (decide.ts 'reclass'): nobody of the
  class its first worker pinned it to can take a replica or holds one, and another class's trusted
  worker could render it. Its results there can agree with no other class's, so they are set aside
  ('overruled': no fault, no pay, stake unlocked); the caller moves its slots waiting in that
  class's queue to the shared one; the class is set aside for the tile for good (bind.lua), so
  keys of one rare class pin it once at most; the next class starts with a fresh budget of replicas.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    ARGV[1] task id
    ARGV[2] version the decision was judged on
    ARGV[3] the class judged starved
    ARGV[4] now (ms)
  Output:
    1 when opened, 0 when the task changed meanwhile or a replica of it was taken since (judge again)
]]
-- @include holders
-- @include latency
local now = tonumber(ARGV[4])
local t = redis.call('HMGET', KEYS[1], 'version', 'state', 'class', 'excluded')
if t[1] ~= ARGV[2] or t[2] ~= 'pending' or t[3] ~= ARGV[3] or ARGV[3] == '' then return 0 end
local all = redis.call('HGETALL', KEYS[2])
local results = {}
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  -- A bind since the decision (binds leave the version as it is): its holder renders on.
  if not r.spot and r.state == 'assigned' then return 0 end
  if not r.spot and r.state == 'submitted' then results[all[i]] = r end
end
for n, r in pairs(results) do
  recordVerdictLatency(r, ARGV[3], now)
  -- Not a fault: a forward provider's time excused for it stands.
  settleExcuse(r, true)
  unlockStake(r.worker, r.locked)
  void(r, now)
  r.state = 'overruled'
  redis.call('HSET', KEYS[2], n, cjson.encode(r))
end
local excluded = cjson.decode(t[4] or '[]')
table.insert(excluded, ARGV[3])
redis.call('HSET', KEYS[1], 'class', '', 'excluded', cjson.encode(excluded), 'progressAt', now)
-- The next class's verdict is audited afresh (it had been, once, in the class set aside), and has
-- the tile's budget of replicas less those still queued: the class set aside had spent it, and the
-- next class's first results would have been decided below θ, or failed a quorum job, on none.
redis.call('HDEL', KEYS[1], 'audited')
redis.call('HSET', KEYS[1], 'issued', redis.call('HGET', KEYS[1], 'outstanding'))
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', K.tasksIdle, now, ARGV[1])
return 1
