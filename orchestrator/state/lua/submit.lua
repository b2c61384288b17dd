--[[
  Records a worker's results for replicas it holds, a batch in one call, each as if alone. The
  worker stops holding each (its public in-flight count drops the same way for every kind of
  replica); the stake behind it stays locked until the verdict. A forward provider's time on it
  counts as idle when it was excused (bind.lua).
  Input, for the i-th result (i from 0):
    KEYS[3i+1] task
    KEYS[3i+2] task replicas
    KEYS[3i+3] job
    ARGV[9i+1] slot number n
    ARGV[9i+2] replica id
    ARGV[9i+3] worker id
    ARGV[9i+4] CID of the result
    ARGV[9i+5] idle-check time for the task (ms)
    ARGV[9i+6] task id
    ARGV[9i+7] rays the result's render traced (part of its CID)
    ARGV[9i+8], ARGV[9i+9] uniform in [0, 1): pick how long a spot check's verdict waits
    ARGV[#ARGV] now (ms)
  Output, per result in order:
    {'submitted'} | {'spot', when its verdict is due (ms)} | {'duplicate'} | {'expired'} | {'obsolete'} |
    {'notassigned'} | {'conflict'}
]]
-- @include holders
-- @include drain
-- @include idle
-- @include jobs
-- @include latency
local now = tonumber(ARGV[#ARGV])

local function submit(kTask, kReplicas, kJob, n, rid, workerId, cid, idleAt, taskId, rays, u1, u2)
  local existing = redis.call('HGET', kReplicas, n)
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
  -- A cancelled or failed job's tile still takes the answers of replicas held when it ended
  -- (includes/drain.lua), drained here if the closer's batch has not come to it yet: an answer
  -- between the two had been refused, unpaid, while a spot check's was taken (an attacker's review).
  -- A verified tile takes them whatever its job's state, judged late against its verdict, as in a
  -- running job (a third of a quorum, an audit still held when the job finished or its tile was
  -- accepted in a drain had been refused, unpaid).
  local jobState, taskState = redis.call('HGET', kJob, 'state'), redis.call('HGET', kTask, 'state')
  if not r.spot and endedEarly(jobState) and taskState == 'pending' then drain(taskId, r.job, now) end
  if not r.spot and jobState ~= 'running' and taskState ~= 'verified' and redis.call('HGET', kTask, 'draining') ~= '1' then
    letGo(r, 'cancelled', now, 0)
    redis.call('HSET', kReplicas, n, cjson.encode(r))
    return {'obsolete'}
  end
  count(workerId, 'inFlight', -1)
  redis.call('SREM', K.workerActive(workerId), rid)
  -- An owing provider's time on work it was excused for (bind.lua) counts as idle.
  answerForward(r, now)
  r.state = 'submitted'
  r.cid = cid
  r.rays = rays
  r.submittedAt = now
  redis.call('HSET', kReplicas, n, cjson.encode(r))
  if r.spot then
    -- Judged when a real replica's verdict would come for a worker of its standing
    -- (includes/latency.lua), never at once: a verdict at upload marked it as a check. Its lease
    -- gives way to its due time, kept until the verdict, so the sweeper judges it whoever forgot
    -- it (and a heartbeat, which renews leases, cannot move it).
    local due = now + drawVerdictLatency(workerId, redis.call('HGET', kTask, 'class'), u1, u2)
    redis.call('ZREM', K.spotLeases, rid)
    redis.call('ZADD', K.spotDue, due, rid)
    return {'spot', due}
  end
  if r.countedOut then redis.call('HINCRBY', kJob, 'replicasOut', -1) end
  redis.call('HINCRBY', kTask, 'outstanding', -1)
  redis.call('HINCRBY', kTask, 'version', 1)
  redis.call('HSET', kTask, 'progressAt', now)
  redis.call('ZADD', K.tasksIdle, idleAt, taskId)
  redis.call('HINCRBY', kJob, 'replicasRendered', 1)
  return {'submitted'}
end

local out = {}
for i = 0, #KEYS / 3 - 1 do
  local a = 9 * i
  out[i + 1] = submit(KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
    tonumber(ARGV[a + 5]), ARGV[a + 6], tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9]))
end
return out
