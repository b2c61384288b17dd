--[[
  A verified tile goes back to pending and is marked suspect: backtracking (a worker it rested on
  was caught; its replica turns invalid) or a late result that disputes a verdict no trusted
  worker backed. Its frame is un-stitched, and a finished job runs again with a fresh timeout.
  But a finished job's tile that backtracking would reopen with no trusted worker online stays as
  it is, marked accepted below θ: only keys could render it again, a job pays for keys' replicas,
  and a finished job holds no escrow; it is re-run once a trusted worker is online (rerun.ts).
  A cancelled or failed job's tile a caught worker carried is marked so too, never re-run (the
  job will not run again), and what the caught worker was paid for it goes back to the job's
  owner: it had kept it; and so is a finished job's whose deletion was asked for.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] job
    KEYS[4] job frames
    KEYS[5] job frame CIDs
    KEYS[6] job pending tasks
    ARGV[1] task id
    ARGV[2] job id
    ARGV[3] caught worker, or '' for a dispute
    ARGV[4] now (ms)
    ARGV[5] 1 when no trusted worker of the task's class is online
  Output:
    1 when the task was reopened, 2 when it was marked below θ instead, 0 when it was neither
]]
-- @include reputation
-- @include jobs
local taskId, jobId, now = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('HGET', KEYS[1], 'state') ~= 'verified' then return 0 end
local jobState = redis.call('HGET', KEYS[3], 'state')
-- A job that ended before it was done, or a finished one whose deletion was asked for (jobs.ts
-- requestDeletion: indexed as ended at 0), runs no more: reopened, the deletion asked for while
-- a late replica was out had been forgotten (an attacker's review).
local ended = endedEarly(jobState) or (jobState == 'done' and redis.call('ZSCORE', K.jobsEnded, jobId) == '0')
if jobState ~= 'running' and jobState ~= 'done' and not ended then return 0 end
if ended and ARGV[3] == '' then return 0 end
-- A job being deleted stays deleted (job-purge.lua).
if redis.call('HEXISTS', KEYS[3], 'purging') == 1 then return 0 end
-- The caught worker's results on it turn invalid, and what they were paid comes back (includes/
-- escrow.lua clawBack) once the job's state below is settled: into its escrow, for the tile's
-- render again, where the tile reopens; to its owner where the job stays done.
local wrong = {}
if ARGV[3] ~= '' then
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local r = cjson.decode(all[i + 1])
    if r.worker == ARGV[3] and r.state == 'valid' then
      r.state = 'invalid'
      wrong[all[i]] = r
      count(r.worker, 'valid', -1)
      count(r.worker, 'invalid', 1)
    end
  end
end
local function restitute()
  for n, r in pairs(wrong) do
    clawBack(r, now)
    redis.call('HSET', KEYS[2], n, cjson.encode(r))
  end
end
local below = redis.call('HGET', KEYS[1], 'below') == '1'
if ended or (jobState == 'done' and ARGV[3] ~= '' and ARGV[5] == '1') then
  if ended and next(wrong) == nil then return 0 end
  if not below then
    redis.call('HSET', KEYS[1], 'below', 1)
    redis.call('HINCRBY', KEYS[3], 'tilesBelowThreshold', 1)
  end
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  if not ended then redis.call('ZADD', K.tasksMarked, now, taskId) end
  restitute()
  return 2
end
redis.call('ZREM', K.tasksMarked, taskId)
redis.call('HSET', KEYS[1], 'state', 'pending', 'cid', '', 'credibility', '', 'below', 0, 'anchored', 0,
  'suspect', 1, 'reopened', now, 'decidedAt', '', 'progressAt', now)
-- A fresh arbitration and audit: slots issued for the earlier verdict may have been dropped.
redis.call('HDEL', KEYS[1], 'arbiter', 'audited')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SADD', KEYS[6], taskId)
redis.call('ZADD', K.tasksIdle, now, taskId)
local frame = redis.call('HGET', KEYS[1], 'frame')
redis.call('HINCRBY', KEYS[3], 'tilesVerified', -1)
-- 0 - n, not -n: Lua's -0 reaches Redis as "-0", which is not an integer to it.
redis.call('HINCRBY', KEYS[3], 'raysVerified', 0 - tonumber(redis.call('HGET', KEYS[1], 'rays') or '0'))
redis.call('HSET', KEYS[1], 'rays', 0)
if below then redis.call('HINCRBY', KEYS[3], 'tilesBelowThreshold', -1) end
redis.call('HINCRBY', KEYS[4], frame, -1)
if redis.call('HDEL', KEYS[5], frame) == 1 then redis.call('HINCRBY', KEYS[3], 'framesDone', -1) end
if redis.call('HGET', KEYS[3], 'state') == 'done' then
  redis.call('HSET', KEYS[3], 'state', 'running', 'animation', '')
  redis.call('HDEL', KEYS[3], 'finishedAt')
  activate(jobId)
  startClock(jobId, tonumber(redis.call('HGET', KEYS[3], 'timeoutMs')), now)
  bidAnew(jobId, now)
end
restitute()
return 1
