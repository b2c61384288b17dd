-- @include holders
--[[
  A tile of a job that ended before it was done (cancelled, or failed: a tile failed it, or its
  timeout came under onTimeout 'fail') with replicas out — held, or answered and not yet judged —
  is not closed with the rest of the job: it drains (`draining` on the task, counted on the job,
  which is not deleted meanwhile). Its held replicas may still answer; the verdict
  (verdict/runner.ts) pays the tile's workers where its results stand without more work, and
  closes it otherwise. A requester pays for the work it had out, as a render farm bills the time
  used, however its job ends (one that let its timeout come had cancelled work in progress
  unpaid), and a worker cannot tell a spot check from a real replica by what the end does to it.
]]

local function drainable(taskId)
  if redis.call('HGET', K.task(taskId), 'state') ~= 'pending' then return false end
  for _, v in ipairs(redis.call('HVALS', K.taskReplicas(taskId))) do
    local r = cjson.decode(v)
    if not r.spot and (r.state == 'assigned' or r.state == 'submitted') then return true end
  end
  return false
end
-- Once (the closer's batch, or an answer that came before it). The slots of its replicas held:
-- their BullMQ jobs stay in their queues, where the stalled check times out a holder that stopped
-- beating — withdrawn, one whose lease had lapsed just before would have been held for good (an
-- attacker's review).
local function drain(taskId, jobId, now)
  local held = {}
  for _, v in ipairs(redis.call('HVALS', K.taskReplicas(taskId))) do
    local r = cjson.decode(v)
    if not r.spot and r.state == 'assigned' then table.insert(held, r.n) end
  end
  local tkey = K.task(taskId)
  if redis.call('HGET', tkey, 'draining') ~= '1' then
    redis.call('HSET', tkey, 'draining', 1)
    -- A judgement under way read the task before: it judges again.
    redis.call('HINCRBY', tkey, 'version', 1)
    redis.call('HINCRBY', K.job(jobId), 'draining', 1)
    redis.call('ZADD', K.tasksIdle, now, taskId)
  end
  return held
end
-- The tile no longer drains: judged, or closed.
local function drained(taskId, jobId)
  if redis.call('HDEL', K.task(taskId), 'draining') == 1 then redis.call('HINCRBY', K.job(jobId), 'draining', -1) end
end
-- Closes a task of a job that ended: its replicas still out are cancelled.
local function closeTask(taskId, jobId, now)
  local tkey = K.task(taskId)
  if redis.call('HGET', tkey, 'state') == 'pending' then redis.call('HSET', tkey, 'state', 'closed', 'waiting', '') end
  drained(taskId, jobId)
  redis.call('ZREM', K.tasksIdle, taskId)
  cancelOutstanding(taskId, now)
end
