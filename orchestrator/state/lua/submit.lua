--[[
  Records a worker's result for a replica it holds. The worker stops holding it (its public
  in-flight count drops the same way for every kind of replica); the stake behind it stays locked
  until the verdict. A forward provider's time on it counts as idle when it was excused (bind.lua).
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] job
    ARGV[1] slot number n
    ARGV[2] replica id
    ARGV[3] worker id
    ARGV[4] CID of the result
    ARGV[5] now (ms)
    ARGV[6] idle-check time for the task (ms)
    ARGV[7] task id
    ARGV[8] rays the result's render traced (part of its CID)
    ARGV[9], ARGV[10] uniform in [0, 1): pick how long a spot check's verdict waits
  Output:
    {'submitted'} | {'spot', when its verdict is due (ms)} | {'duplicate'} | {'expired'} | {'obsolete'} |
    {'notassigned'} | {'conflict'}
]]
-- @include holders
-- @include idle
-- @include latency
local n, rid, workerId, cid, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local existing = redis.call('HGET', KEYS[2], n)
if not existing then return {'notassigned'} end
local r = cjson.decode(existing)
if r.rid ~= rid then
  for _, p in ipairs(r.previous or {}) do
    if p.rid == rid and p.worker == workerId then return {'expired'} end
  end
  return {'notassigned'}
end
if r.worker ~= workerId then return {'notassigned'} end
if gaveUp(r) then return {'expired'} end
if r.state == 'cancelled' then return {'obsolete'} end
if r.state ~= 'assigned' then
  if r.cid == cid then return {'duplicate'} end
  return {'conflict'}
end
if not r.spot and redis.call('HGET', KEYS[3], 'state') ~= 'running' then
  letGo(r, 'cancelled', now, 0)
  redis.call('HSET', KEYS[2], n, cjson.encode(r))
  return {'obsolete'}
end
count(workerId, 'inFlight', -1)
redis.call('SREM', K.workerActive(workerId), rid)
-- An owing provider's time on work it was excused for (bind.lua) counts as idle.
answerForward(r, now)
r.state = 'submitted'
r.cid = cid
r.rays = tonumber(ARGV[8])
r.submittedAt = now
redis.call('HSET', KEYS[2], n, cjson.encode(r))
if r.spot then
  -- Judged when a real replica's verdict would come for a worker of its standing
  -- (includes/latency.lua), never at once: a verdict at upload marked it as a check. Its lease
  -- gives way to its due time, kept until the verdict, so the sweeper judges it whoever forgot
  -- it (and a heartbeat, which renews leases, cannot move it).
  local due = now + drawVerdictLatency(workerId, redis.call('HGET', KEYS[1], 'class'), tonumber(ARGV[9]), tonumber(ARGV[10]))
  redis.call('ZREM', K.spotLeases, rid)
  redis.call('ZADD', K.spotDue, due, rid)
  return {'spot', due}
end
redis.call('HINCRBY', KEYS[1], 'outstanding', -1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'progressAt', now)
redis.call('ZADD', K.tasksIdle, tonumber(ARGV[6]), ARGV[7])
redis.call('HINCRBY', KEYS[3], 'replicasRendered', 1)
return {'submitted'}
