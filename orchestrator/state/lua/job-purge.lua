--[[
  Deletes an ended job, a batch of its tasks per call: each task's replicas still out are
  cancelled (their stake unlocked), the task leaves the spot-check pool, the idle index and its
  workers' vouched sets, and its replica ids are forgotten; the last call deletes the job's own
  keys and its entries in the job indexes. The job is marked `purging` first, so backtracking
  never reopens a half-deleted job. Not while it is wound down, nor while tiles of it drain, nor
  while a replica bound before it ended is still held (until a task timeout after its end at the
  latest): one on a tile it accepted is judged late when it answers (submit.lua), and deleted, it
  had been refused and unpaid (an attacker's review: a requester deleting its finished job at once).
  Nor while a batch's task holds an answer not judged yet (a real replica's or a spot check's), a
  task timeout after it came at the latest: its orchestrator may have died once it was recorded,
  leaving it to the sweep's look a grace later, and deleted first it went unpaid and its worker's
  retry counted as a rejection (a review); answered spot checks drawn from the job's tiles had been
  cancelled so too.
  Blobs are collected later, by reference (retention/duty.ts).
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] now (ms)
    ARGV[3] '1' when this batch holds the job's last tasks
    ARGV[4] the task timeout (ms)
    ARGV[5...] task ids
  Output:
    'ok', 'gone' (no such job), or 'active' (not ended, still being wound down or draining, a
    replica bound before it ended still held, or an answer in the batch not judged yet)
]]
-- @include holders
local jobId, now = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', K.jobsEnded, jobId)
  return 'gone'
end
local state = redis.call('HGET', KEYS[1], 'state')
-- An ended job's draining tiles are paid or closed first (includes/drain.lua): deleting them
-- would let a requester cancel and delete to pay nothing for the work it had out.
local j = redis.call('HMGET', KEYS[1], 'draining', 'replicasOut', 'finishedAt')
if (state ~= 'done' and state ~= 'failed' and state ~= 'cancelled') or redis.call('SISMEMBER', K.jobsClosing, jobId) == 1
  or tonumber(j[1] or '0') > 0
  or (tonumber(j[2] or '0') > 0 and now < tonumber(j[3] or '0') + tonumber(ARGV[4])) then
  return 'active'
end
-- Each task's replicas, read once: whether one waits for its verdict, then what to forget.
local replicasOf = {}
for i = 5, #ARGV do
  replicasOf[i] = redis.call('HVALS', K.taskReplicas(ARGV[i]))
  for _, raw in ipairs(replicasOf[i]) do
    local r = cjson.decode(raw)
    if r.state == 'submitted' and now < (r.submittedAt or 0) + tonumber(ARGV[4]) then return 'active' end
  end
end
redis.call('HSET', KEYS[1], 'purging', now)
local function forget(r, taskId)
  redis.call('DEL', K.replica(r.rid))
  redis.call('SREM', K.workerVouched(r.worker), taskId)
end
for i = 5, #ARGV do
  local taskId = ARGV[i]
  local class = redis.call('HGET', K.task(taskId), 'class')
  if class then
    cancelOutstanding(taskId, now)
    if class ~= '' then redis.call('ZREM', K.spotPool(class), taskId) end
    redis.call('ZREM', K.tasksIdle, taskId)
    for _, raw in ipairs(replicasOf[i]) do
      local r = cjson.decode(raw)
      forget(r, taskId)
      if type(r.previous) == 'table' then
        for _, p in ipairs(r.previous) do forget(p, taskId) end
      end
    end
    redis.call('DEL', K.task(taskId), K.taskReplicas(taskId))
  end
end
if ARGV[3] == '1' then
  local owner = redis.call('HGET', KEYS[1], 'owner')
  redis.call('DEL', KEYS[1], K.jobFrames(jobId), K.jobFrameCids(jobId), K.jobFrameGen(jobId), K.jobPending(jobId),
    K.jobBlacklist(jobId), K.jobShare(jobId), K.jobShareLetGo(jobId))
  redis.call('ZREM', K.jobsAll, jobId)
  redis.call('ZREM', K.jobsOf(owner), jobId)
  redis.call('ZREM', K.jobsEnded, jobId)
end
return 'ok'
