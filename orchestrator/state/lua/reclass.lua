--[[
  Opens a tile starved in its class to the other classes (decide.ts 'reclass'): nobody of the
  class its first worker pinned it to can take a replica, and another class could render it. Its
  results there can agree with no other class's, so they are set aside ('overruled': no fault, no
  pay, stake unlocked); replicas of it still held are let go without penalty (the caller gives
  their slots back to their queue and moves every waiting one to the shared queue); the class is
  set aside for the tile for good (bind.lua), so keys of one rare class pin it once at most.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    ARGV[1] task id
    ARGV[2] version the decision was judged on
    ARGV[3] the class judged starved
    ARGV[4] now (ms)
  Output:
    JSON [replica record, ...] of the replicas it let go, or nil when the task changed meanwhile
]]
-- @include holders
-- @include latency
local now = tonumber(ARGV[4])
local t = redis.call('HMGET', KEYS[1], 'version', 'state', 'class', 'excluded')
if t[1] ~= ARGV[2] or t[2] ~= 'pending' or t[3] ~= ARGV[3] or ARGV[3] == '' then return nil end
local held = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  if not r.spot and (r.state == 'assigned' or r.state == 'submitted') then
    if r.state == 'assigned' then
      letGo(r, 'handedback', now, 0)
      table.insert(held, r)
    else
      recordVerdictLatency(r, ARGV[3], now)
      settleExcuse(r, false)
      unlockStake(r.worker, r.locked)
      void(r, now)
      r.state = 'overruled'
    end
    redis.call('HSET', KEYS[2], all[i], cjson.encode(r))
  end
end
local excluded = cjson.decode(t[4] or '[]')
table.insert(excluded, ARGV[3])
redis.call('HSET', KEYS[1], 'class', '', 'excluded', cjson.encode(excluded), 'progressAt', now)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', K.tasksIdle, now, ARGV[1])
if #held == 0 then return '[]' end
return cjson.encode(held)
